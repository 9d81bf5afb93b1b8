package de.sfhost.module.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What hooks ask the PBX to do differently for one call. Every setter can only switch a flag on,
 * so the wishes of several hooks (and several instances of one module) add up. Thread-safe.
 */
public final class CallOverrides {
    private boolean ignoreDnd;
    private boolean ignoreRedirects;
    private boolean ignoreRedirectsToCaller;
    private boolean forceCallWaiting;
    private boolean answerBusy;
    private boolean answerVoicemail;
    private final List<String[]> applied = new ArrayList<String[]>();

    /** Ignore the target user's DND for this call ({@code false} changes nothing). */
    public synchronized void setIgnoreDnd(boolean on) {
        ignoreDnd |= on;
    }

    /** Ignore all redirects (ALWAYS, BUSY, TIMEOUT) of the target user for this call. */
    public synchronized void setIgnoreRedirects(boolean on) {
        ignoreRedirects |= on;
    }

    /** Ignore only those redirects whose destination is the caller. */
    public synchronized void setIgnoreRedirectsToCaller(boolean on) {
        ignoreRedirectsToCaller |= on;
    }

    /** Treat call waiting as on: a busy target gets the call as a waiting call. */
    public synchronized void setForceCallWaiting(boolean on) {
        forceCallWaiting |= on;
    }

    /** End the call busy, whatever the target's state. */
    public synchronized void setAnswerBusy(boolean on) {
        answerBusy |= on;
    }

    /** End the call in the target's voicemail (busy wins when both are asked for). */
    public synchronized void setAnswerVoicemail(boolean on) {
        answerVoicemail |= on;
    }

    /**
     * Record that an instance's rule matched this call, with the effects it asked for (names
     * such as "bypass_dnd"); the host shows these in the call result and the log.
     */
    public synchronized void noteApplied(String instanceName, String... effects) {
        String[] entry = new String[effects.length + 1];
        entry[0] = instanceName;
        System.arraycopy(effects, 0, entry, 1, effects.length);
        applied.add(entry);
    }

    public synchronized boolean isIgnoreDnd() {
        return ignoreDnd;
    }

    public synchronized boolean isIgnoreRedirects() {
        return ignoreRedirects;
    }

    public synchronized boolean isIgnoreRedirectsToCaller() {
        return ignoreRedirectsToCaller;
    }

    public synchronized boolean isForceCallWaiting() {
        return forceCallWaiting;
    }

    public synchronized boolean isAnswerBusy() {
        return answerBusy;
    }

    public synchronized boolean isAnswerVoicemail() {
        return answerVoicemail;
    }

    /** The recorded matches: each entry is {instanceName, effect...}. */
    public synchronized List<String[]> getApplied() {
        return Collections.unmodifiableList(new ArrayList<String[]>(applied));
    }

    /** Add everything {@code other} asked for to this one. */
    public void addAll(CallOverrides other) {
        boolean d;
        boolean r;
        boolean rc;
        boolean w;
        boolean b;
        boolean v;
        List<String[]> a;
        synchronized (other) {
            d = other.ignoreDnd;
            r = other.ignoreRedirects;
            rc = other.ignoreRedirectsToCaller;
            w = other.forceCallWaiting;
            b = other.answerBusy;
            v = other.answerVoicemail;
            a = new ArrayList<String[]>(other.applied);
        }
        synchronized (this) {
            ignoreDnd |= d;
            ignoreRedirects |= r;
            ignoreRedirectsToCaller |= rc;
            forceCallWaiting |= w;
            answerBusy |= b;
            answerVoicemail |= v;
            applied.addAll(a);
        }
    }
}
