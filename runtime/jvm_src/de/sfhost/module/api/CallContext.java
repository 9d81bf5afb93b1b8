package de.sfhost.module.api;

/**
 * Read-only view of an incoming call at stage PostTargetDeterminationIncoming: the numbers as
 * signalled and the state of the target the PBX determined. Hooks change nothing here; they
 * express what they want through {@link CallOverrides}.
 */
public interface CallContext {
    /** The stage name under which hooks for this view are registered. */
    String STAGE = "PostTargetDeterminationIncoming";

    /** A host-wide unique id of this call. */
    String getCallId();

    /** The caller number as signalled; null when the caller withheld the number. */
    String getCallerNumber();

    /** The called number as signalled. */
    String getCalledNumber();

    TargetKind getTargetKind();

    /** The id of the user or group the PBX determined. */
    String getTargetId();

    /** The display name of that user or group (may be empty, never null). */
    String getTargetName();

    /** The target user's Do-Not-Disturb; false for a group. */
    boolean isDnd();

    /** The target user's call waiting setting; false for a group. */
    boolean isCallWaiting();

    /** True when the target user is already in a call; false for a group. */
    boolean isBusy();

    boolean isRedirectEnabled(RedirectKind kind);

    /** The destination of that redirect ("voicemail" or a number), null when none is set. */
    String getRedirectDestination(RedirectKind kind);

    /** The seconds of the TIMEOUT redirect (0 when none is set). */
    int getRedirectTimeoutSeconds();
}
