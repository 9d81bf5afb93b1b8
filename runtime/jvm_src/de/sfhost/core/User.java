package de.sfhost.core;

import de.sfhost.module.api.RedirectKind;
import java.util.EnumMap;
import java.util.Map;

/** A PBX user with the state that routing reads (immutable once the directory is built). */
public final class User extends Party {
    final boolean dnd;
    final boolean callWaiting;
    final boolean busy;
    final Map<RedirectKind, Redirect> redirects = new EnumMap<>(RedirectKind.class);

    User(String id, String name, boolean dnd, boolean callWaiting, boolean busy) {
        super(id, name);
        this.dnd = dnd;
        this.callWaiting = callWaiting;
        this.busy = busy;
        for (RedirectKind kind : RedirectKind.values()) {
            redirects.put(kind, Redirect.off(kind));
        }
    }

    Redirect redirect(RedirectKind kind) {
        return redirects.get(kind);
    }
}
