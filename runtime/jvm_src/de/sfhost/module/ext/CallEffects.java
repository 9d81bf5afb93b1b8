package de.sfhost.module.ext;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.TargetKind;
import de.starface.core.component.StarfaceComponent;

/**
 * This host's extension (STARFACE has no public API for it): the call a call-processing
 * function is asked about, and what the function may change for this call only. Fetched with
 * {@code context.provider().fetch(CallEffects.class)}. Every change only switches something on,
 * so the wishes of several modules add up; the routing core applies them.
 */
public final class CallEffects implements StarfaceComponent {
    private final CallContext call;
    private final CallOverrides overrides;

    public CallEffects(CallContext call, CallOverrides overrides) {
        this.call = call;
        this.overrides = overrides;
    }

    public String getCallId() {
        return call.getCallId();
    }

    /** The caller number as signalled; null when withheld. */
    public String getCallerNumber() {
        return call.getCallerNumber();
    }

    /** The called number as signalled. */
    public String getCalledNumber() {
        return call.getCalledNumber();
    }

    /** USER or GROUP: what the PBX determined as the target. */
    public TargetKind getTargetKind() {
        return call.getTargetKind();
    }

    public String getTargetId() {
        return call.getTargetId();
    }

    /** The target user's DND is ignored for this call. */
    public void ignoreDnd() {
        overrides.setIgnoreDnd(true);
    }

    /** The target user's redirects (ALWAYS, BUSY, TIMEOUT) are ignored for this call. */
    public void ignoreRedirects() {
        overrides.setIgnoreRedirects(true);
    }

    /** Only those redirects of the target user whose destination is the caller are ignored. */
    public void ignoreRedirectsToCaller() {
        overrides.setIgnoreRedirectsToCaller(true);
    }

    /** Call waiting counts as on: a busy target gets the call as a waiting call. */
    public void forceCallWaiting() {
        overrides.setForceCallWaiting(true);
    }

    /** The call ends busy, whatever the target's state (wins over every other effect). */
    public void answerBusy() {
        overrides.setAnswerBusy(true);
    }

    /** The call ends in the target's voicemail (busy wins if another module asked for it). */
    public void answerVoicemail() {
        overrides.setAnswerVoicemail(true);
    }

    /** Record that an instance's rule matched, with the effects it asked for (for the log). */
    public void noteApplied(String instance, String... effects) {
        overrides.noteApplied(instance, effects);
    }

    CallContext context() {
        return call;
    }

    CallOverrides overrides() {
        return overrides;
    }
}
