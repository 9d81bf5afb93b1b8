package de.sfhost.core;

import de.sfhost.module.api.RedirectKind;
import java.util.EnumMap;
import java.util.Map;

/** A PBX user with the state that routing reads (immutable once the directory is built). */
public final class User extends Party {
    final boolean dnd;
    final boolean callWaiting;
    final boolean busy;
    final Map<RedirectKind, Redirect> redirects;
    /** The user's first number (a SIP phone registers with it); null when it has none. */
    String firstNumber;

    User(String id, String name, boolean dnd, boolean callWaiting, boolean busy) {
        super(id, name);
        this.dnd = dnd;
        this.callWaiting = callWaiting;
        this.busy = busy;
        this.redirects = new EnumMap<>(RedirectKind.class);
        for (RedirectKind kind : RedirectKind.values()) {
            redirects.put(kind, Redirect.off(kind));
        }
    }

    /** {@code base} in a call: the same user, busy (see {@link Directory#withBusy}). */
    User(User base) {
        super(base.id, base.name);
        this.dnd = base.dnd;
        this.callWaiting = base.callWaiting;
        this.busy = true;
        this.redirects = base.redirects; // not changed once the directory is built
        this.firstNumber = base.firstNumber;
    }

    Redirect redirect(RedirectKind kind) {
        return redirects.get(kind);
    }

    public boolean isDnd() {
        return dnd;
    }

    public boolean isCallWaiting() {
        return callWaiting;
    }

    public boolean isBusy() {
        return busy;
    }

    /** The redirect of that kind (off when the user set none). */
    public Redirect getRedirect(RedirectKind kind) {
        return redirects.get(kind);
    }

    public String getFirstNumber() {
        return firstNumber;
    }
}
