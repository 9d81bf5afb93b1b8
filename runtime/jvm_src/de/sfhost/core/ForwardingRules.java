package de.sfhost.core;

import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.RedirectKind;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Set;

/**
 * The PBX's forwarding rules for a call to a user, as STARFACE documents them (DESIGN.md):
 * ALWAYS redirect, DND (a TIMEOUT redirect fires at once, else busy), busy (call waiting, else
 * a BUSY redirect, else busy), else the phones ring; the modules' overrides for this call;
 * forwarding chains with a hop limit, loops never followed. Pure: no threads, no hooks, no
 * state but the hop limit, so it is tested call by call (tests/test_forwarding_rules.py).
 */
public final class ForwardingRules {
    private enum Step { RING, WAITING, BUSY, FORWARD, VOICEMAIL }

    private static final class Decision {
        final Step step;
        final Redirect via;

        Decision(Step step, Redirect via) {
            this.step = step;
            this.via = via;
        }
    }

    private static final Decision RING = new Decision(Step.RING, null);
    private static final Decision WAITING = new Decision(Step.WAITING, null);
    private static final Decision BUSY = new Decision(Step.BUSY, null);
    private static final Decision VOICEMAIL = new Decision(Step.VOICEMAIL, null);

    private final int hopLimit;
    /** False for replays of a call: a round-robin group rings as the next call would, and its
     * rotation stays where it is. */
    private final boolean turnsRotation;

    public ForwardingRules(int hopLimit) {
        this(hopLimit, true);
    }

    public ForwardingRules(int hopLimit, boolean turnsRotation) {
        if (hopLimit < 0) {
            throw new IllegalArgumentException("the hop limit must not be negative");
        }
        this.hopLimit = hopLimit;
        this.turnsRotation = turnsRotation;
    }

    boolean turnsRotation() {
        return turnsRotation;
    }

    /**
     * Route a call as the PBX would with these overrides of the modules (null: none), on the
     * calling thread: the target from the directory (a group rings its members, whatever the
     * overrides), then the rules. IllegalArgumentException for a number nobody has.
     */
    public RouteResult route(Directory dir, String caller, String called,
            CallOverrides overrides) {
        Party target = dir.lookup(called);
        if (target == null) {
            throw new IllegalArgumentException(
                    "no user or group of the PBX directory has the number " + called);
        }
        RouteResult result = new RouteResult("rules");
        if (target instanceof Group) {
            ringGroup(dir, (Group) target, result);
            return result;
        }
        return follow(dir, (User) target, caller, called, overrides, result);
    }

    /** Route a call to user {@code target} with the hooks' overrides (null: no hooks). */
    public RouteResult follow(Directory dir, User target, String caller, String called,
            CallOverrides overrides, RouteResult result) {
        Party callerParty = dir.lookup(caller);
        Set<String> chain = new HashSet<>();
        chain.add(target.id);
        Party current = target;
        CallOverrides currentOverrides = overrides;
        int hops = 0;
        while (true) {
            if (current instanceof Group) {
                ringGroup(dir, (Group) current, result);
                break;
            }
            User user = (User) current;
            EnumSet<RedirectKind> off = EnumSet.noneOf(RedirectKind.class);
            Party next = null;
            Decision d;
            while (true) {
                d = decide(dir, user, currentOverrides, off, callerParty, caller);
                if (d.step != Step.FORWARD || d.via.isVoicemail()) {
                    break;
                }
                next = dir.lookup(d.via.destination);
                if (next == null) {
                    break; // a number outside the PBX: the chain ends there
                }
                if (chain.contains(next.id) || hops >= hopLimit) {
                    // A loop (or one hop too many) is never followed: this party is treated
                    // as if that forward were off.
                    off.add(d.via.kind);
                    next = null;
                    continue;
                }
                break;
            }
            if (d.step == Step.VOICEMAIL) {
                result.outcome = "voicemail";
                break;
            }
            if (d.step == Step.FORWARD) {
                if (d.via.isVoicemail()) {
                    result.outcome = "voicemail";
                    break;
                }
                result.forwardedTo.add(d.via.destination);
                if (next == null) {
                    result.outcome = "forward";
                    break;
                }
                chain.add(next.id);
                hops++;
                current = next;
                currentOverrides = null; // hooks act on the target of the called number only
                continue;
            }
            if (d.step == Step.RING) {
                result.outcome = "ring";
                result.rings.add(user.id);
            } else if (d.step == Step.WAITING) {
                result.outcome = "waiting";
                result.rings.add(user.id);
            } else {
                result.outcome = "busy";
            }
            break;
        }
        if (!result.forwardedTo.isEmpty()) {
            result.originallyCalled = target.name.isEmpty() ? called : target.name;
        }
        return result;
    }

    /** The PBX behaviour for a user target, with the overrides of the hooks (may be null). */
    private Decision decide(Directory dir, User u, CallOverrides ov, Set<RedirectKind> off,
            Party callerParty, String caller) {
        if (ov != null && ov.isAnswerBusy()) {
            return BUSY; // a module ends the call busy: nothing else of the target applies
        }
        if (ov != null && ov.isAnswerVoicemail()) {
            return VOICEMAIL;
        }
        Redirect always = effective(dir, u, RedirectKind.ALWAYS, ov, off, callerParty, caller);
        if (always != null) {
            return new Decision(Step.FORWARD, always);
        }
        boolean dnd = u.dnd && !(ov != null && ov.isIgnoreDnd());
        if (dnd) {
            // Not signalled: a TIMEOUT redirect fires at once, else the caller hears busy.
            Redirect timeout = effective(dir, u, RedirectKind.TIMEOUT, ov, off, callerParty,
                    caller);
            return timeout != null ? new Decision(Step.FORWARD, timeout) : BUSY;
        }
        if (u.busy) {
            boolean waiting = u.callWaiting || (ov != null && ov.isForceCallWaiting());
            if (waiting) {
                return WAITING;
            }
            Redirect busy = effective(dir, u, RedirectKind.BUSY, ov, off, callerParty, caller);
            return busy != null ? new Decision(Step.FORWARD, busy) : BUSY;
        }
        // The phones ring; a TIMEOUT redirect would take over only after its seconds.
        return RING;
    }

    /** The redirect of that kind if it applies to this call, else null. */
    private Redirect effective(Directory dir, User u, RedirectKind kind, CallOverrides ov,
            Set<RedirectKind> off, Party callerParty, String caller) {
        Redirect r = u.redirect(kind);
        if (!r.enabled || off.contains(kind)) {
            return null;
        }
        if (ov != null) {
            if (ov.isIgnoreRedirects()) {
                return null;
            }
            if (ov.isIgnoreRedirectsToCaller() && leadsToCaller(dir, r, callerParty, caller)) {
                return null;
            }
        }
        return r;
    }

    /** "The redirect's destination is the caller": the same party, or one of its forms. */
    private static boolean leadsToCaller(Directory dir, Redirect r, Party callerParty,
            String caller) {
        if (r.isVoicemail() || caller == null) {
            return false;
        }
        if (r.destinationForms.contains(caller)) {
            return true;
        }
        return callerParty != null && dir.lookup(r.destination) == callerParty;
    }

    void ringGroup(Directory dir, Group g, RouteResult result) {
        for (String memberId : g.ringOrder(turnsRotation)) {
            User m = dir.user(memberId);
            if (m != null && !m.dnd) {
                result.rings.add(m.id);
            }
        }
        result.outcome = result.rings.isEmpty() ? "busy" : "ring";
    }
}
