package de.sfhost.core;

import de.sfhost.module.api.RedirectKind;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;

/** One redirect of a user: kind, on/off, destination ("voicemail" or a number) and its forms. */
public final class Redirect {
    public static final String VOICEMAIL = "voicemail";

    final RedirectKind kind;
    final boolean enabled;
    final String destination;
    /** Every form of the destination number (given by the loader), for the "is the caller" test. */
    final Set<String> destinationForms;
    final int seconds;

    Redirect(RedirectKind kind, boolean enabled, String destination, String[] forms, int seconds) {
        this.kind = kind;
        this.enabled = enabled && destination != null && !destination.isEmpty();
        this.destination = destination;
        Set<String> f = new HashSet<>();
        if (destination != null) {
            f.add(destination);
        }
        if (forms != null) {
            Collections.addAll(f, forms);
        }
        this.destinationForms = Collections.unmodifiableSet(f);
        this.seconds = seconds;
    }

    static Redirect off(RedirectKind kind) {
        return new Redirect(kind, false, null, null, 0);
    }

    boolean isVoicemail() {
        return VOICEMAIL.equals(destination);
    }

    public RedirectKind getKind() {
        return kind;
    }

    /** On, with a destination. */
    public boolean isEnabled() {
        return enabled;
    }

    /** "voicemail", a number, or null. */
    public String getDestination() {
        return destination;
    }

    /** Every form of the destination number (the number itself among them). */
    public Set<String> getDestinationForms() {
        return destinationForms;
    }

    public int getSeconds() {
        return seconds;
    }
}
