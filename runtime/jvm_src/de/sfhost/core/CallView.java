package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.RedirectKind;
import de.sfhost.module.api.TargetKind;

/** The read-only {@link CallContext} of a call to a user, handed to hooks. */
final class CallView implements CallContext {
    private final String callId;
    private final String caller;
    private final String called;
    private final Party target;
    /** When the hook being asked must have answered (System.nanoTime), and its budget. */
    volatile long deadline;
    volatile long budget;

    CallView(String callId, String caller, String called, Party target) {
        this.callId = callId;
        this.caller = caller;
        this.called = called;
        this.target = target;
    }

    private User user() {
        return target instanceof User ? (User) target : null;
    }

    @Override
    public String getCallId() {
        return callId;
    }

    @Override
    public String getCallerNumber() {
        return caller;
    }

    @Override
    public String getCalledNumber() {
        return called;
    }

    @Override
    public TargetKind getTargetKind() {
        return target instanceof User ? TargetKind.USER : TargetKind.GROUP;
    }

    @Override
    public String getTargetId() {
        return target.id;
    }

    @Override
    public String getTargetName() {
        return target.name;
    }

    @Override
    public boolean isDnd() {
        User u = user();
        return u != null && u.dnd;
    }

    @Override
    public boolean isCallWaiting() {
        User u = user();
        return u != null && u.callWaiting;
    }

    @Override
    public boolean isBusy() {
        User u = user();
        return u != null && u.busy;
    }

    @Override
    public boolean isRedirectEnabled(RedirectKind kind) {
        User u = user();
        return u != null && u.redirect(kind).enabled;
    }

    @Override
    public String getRedirectDestination(RedirectKind kind) {
        User u = user();
        return u == null ? null : u.redirect(kind).destination;
    }

    @Override
    public int getRedirectTimeoutSeconds() {
        User u = user();
        return u == null ? 0 : u.redirect(RedirectKind.TIMEOUT).seconds;
    }
}
