package de.sfhost.sip;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Answered calls as Kamailio reports them ({@code dialog:start}, {@code dialog:end}), and so
 * which users are in a call: the decider then routes them as busy. Thread-safe; the busy set is
 * kept ready, so a decision reads it without a lock.
 */
public final class CallsInProgress {
    /** One answered call: the PBX users in it (the calling phone's, the answering one's). */
    public static final class Call {
        public final String callId;
        public final String caller;
        public final String called;
        public final List<String> users;
        /** Seconds since the epoch when it was answered. */
        public final double since;

        public Call(String callId, String caller, String called, List<String> users,
                double since) {
            this.callId = callId;
            this.caller = caller;
            this.called = called;
            this.users = Collections.unmodifiableList(new ArrayList<>(users));
            this.since = since;
        }
    }

    private final Map<String, Call> calls = new ConcurrentHashMap<>();
    /** How many answered calls each user is in (guarded by this). */
    private final Map<String, Integer> inCalls = new HashMap<>();
    private volatile Set<String> busy = Collections.emptySet();
    private volatile long version;

    public synchronized void started(Call call) {
        Call before = calls.put(call.callId, call);
        boolean changed = before != null && leave(before);
        for (String u : call.users) {
            changed |= inCalls.merge(u, 1, Integer::sum) == 1;
        }
        if (changed) {
            changed();
        }
    }

    public synchronized void ended(String callId) {
        Call call = calls.remove(callId);
        if (call != null && leave(call)) {
            changed();
        }
    }

    /** Count {@code call}'s users out; true when one of them is in no call any more. */
    private boolean leave(Call call) {
        boolean changed = false;
        for (String u : call.users) {
            Integer n = inCalls.get(u);
            if (n == null || n <= 1) {
                changed |= inCalls.remove(u) != null;
            } else {
                inCalls.put(u, n - 1);
            }
        }
        return changed;
    }

    /** Forget every call (Kamailio restarted: its dialogs are gone). */
    public synchronized void clear() {
        calls.clear();
        inCalls.clear();
        changed();
    }

    /** The busy set changed: a new snapshot for the readers (a call event costs O(its users)). */
    private void changed() {
        busy = Collections.unmodifiableSet(new LinkedHashSet<>(inCalls.keySet()));
        version++;
    }

    /** The ids of the users in a call now. */
    public Set<String> busyUsers() {
        return busy;
    }

    /** Changes whenever the busy set changed. */
    public long version() {
        return version;
    }

    /** The calls now, oldest first. */
    public List<Call> snapshot() {
        List<Call> out = new ArrayList<>(calls.values());
        out.sort(Comparator.comparingDouble(c -> c.since));
        return out;
    }
}
