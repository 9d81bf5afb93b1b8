package de.sfhost.sip;

import de.sfhost.core.Directory;
import de.sfhost.core.Party;
import de.sfhost.core.Redirect;
import de.sfhost.core.RouteResult;
import de.sfhost.core.RoutingCore;
import de.sfhost.core.User;
import de.sfhost.module.api.RedirectKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Turns the routing core's decision of one INVITE into the answer line Kamailio carries out
 * (see runtime/sip/decision.py for the line's keys). Runs on the decision service's threads
 * and calls the core directly, so a decision never takes the host's Python GIL (a module's
 * Python answers from a process of its own).
 *
 * <p>Users in an answered call are busy: before a call is routed, the core's directory is the
 * host's (with the live DND/redirects) plus "busy" for them ({@link Directory#withBusy}),
 * swapped only when that set changed. A change of the live state (the stamp file's time) makes
 * the host reload its directory first ({@link LiveState}).
 */
public final class Decider {
    /** The answer line's keys, in order; an unused one is "-". */
    public static final List<String> KEYS = List.of("act", "aors", "users", "to", "div",
            "dname", "cname", "tsec", "tact", "taors", "tto", "bact", "baors", "bto");
    public static final String PLAIN = answerLine(Map.of("act", "plain"));

    private final RoutingCore core;
    private final CallsInProgress calls;
    private final Path stamp;
    private final LiveState live;
    private final SipLog log;
    private final Object lock = new Object();
    private volatile long stampSeen;
    private volatile Directory applied;
    private volatile long appliedVersion = -1;
    private final AtomicLong decided = new AtomicLong();
    private final AtomicLong fallbacks = new AtomicLong();
    private final Latency latency = new Latency();

    /** A reason to ring plainly that is no fault (an unknown number, no directory). */
    static final class Refusal extends Exception {
        Refusal(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * @param stamp the live stamp file (null: none); its modification time changes when the
     *     users' live state did
     * @param live called when the stamp changed (null: nobody to ask)
     */
    public Decider(RoutingCore core, CallsInProgress calls, String stamp, LiveState live,
            SipLog log) {
        this.core = core;
        this.calls = calls;
        this.stamp = stamp == null ? null : Path.of(stamp);
        this.live = live;
        this.log = log;
        this.stampSeen = stampTime();
    }

    public long decided() {
        return decided.get();
    }

    public long fallbacks() {
        return fallbacks.get();
    }

    /** How long decisions took (from the query to the answer line). */
    public Latency latency() {
        return latency;
    }

    public CallsInProgress calls() {
        return calls;
    }

    public SipLog log() {
        return log;
    }

    /** The answer line of {@code fields}: every key present, "-" when unused or empty. */
    public static String answerLine(Map<String, String> fields) {
        StringBuilder b = new StringBuilder(160);
        for (String k : KEYS) {
            String v = fields.get(k);
            if (b.length() > 0) {
                b.append(';');
            }
            b.append(k).append('=').append(v == null || v.isEmpty() ? "-" : v);
        }
        return b.toString();
    }

    // ---- state ---------------------------------------------------------------------------

    private long stampTime() {
        if (stamp == null) {
            return 0;
        }
        try {
            return Files.getLastModifiedTime(stamp).to(TimeUnit.NANOSECONDS);
        } catch (IOException e) {
            return 0;
        }
    }

    private void followLiveState() {
        long now = stampTime();
        if (now == stampSeen) {
            return;
        }
        synchronized (lock) {
            if (now == stampSeen) {
                return;
            }
            if (live != null) {
                live.reload(); // the directory only: about a millisecond, once per change
            }
            stampSeen = now;
            applied = null;
        }
    }

    /** The directory this call is routed with: the host's, with the users in a call busy. */
    Directory syncBusy() {
        followLiveState();
        Directory current = core.getDirectory();
        if (current == applied && calls.version() == appliedVersion) {
            return current;
        }
        synchronized (lock) {
            long version = calls.version();
            current = core.getDirectory();
            Directory next = current.withBusy(calls.busyUsers());
            if (next != current) {
                core.setDirectory(next);
            }
            applied = next;
            appliedVersion = version;
            return next;
        }
    }

    // ---- deciding ------------------------------------------------------------------------

    /** The answer line for one INVITE; never throws (a fault answers {@code act=plain}). */
    public String decide(String caller, String called) {
        CompletableFuture<String> line = new CompletableFuture<>();
        decide(caller, called, line::complete);
        return line.join();
    }

    /**
     * Hand the answer line for one INVITE to {@code reply}, exactly once; never throws (a
     * fault answers {@code act=plain}). The call is routed on this thread
     * ({@link RoutingCore#routeHere}): usually {@code reply} runs here before this returns;
     * when a module's hook overruns its budget, it runs on the thread that carried the call
     * on, while this thread still waits for the hook to return.
     */
    public void decide(String caller, String called, Consumer<String> reply) {
        long started = System.nanoTime();
        Consumer<String> answer = line -> {
            latency.record(System.nanoTime() - started);
            reply.accept(line);
        };
        Directory dir;
        String callerN = null;
        String calledN;
        try {
            dir = syncBusy();
            if (dir.size() == 0) {
                throw new Refusal("no PBX directory is loaded");
            }
            calledN = SipNumbers.normalise(called);
            if (calledN == null) {
                throw new Refusal(SipNumbers.problem("the called number", called));
            }
            if (!SipNumbers.isWithheld(caller)) {
                callerN = SipNumbers.normalise(caller);
                if (callerN == null) {
                    throw new Refusal(SipNumbers.problem("the caller number", caller));
                }
            }
        } catch (Throwable e) {
            answer.accept(plain(caller, called, e));
            return;
        }
        final String routedCaller = callerN;
        final String routedCalled = calledN;
        CompletableFuture<RouteResult> routed = new CompletableFuture<>();
        routed.whenComplete((r, failure) -> answer.accept(
                line(dir, caller, called, routedCaller, routedCalled, r, failure)));
        core.routeHere(callerN, calledN, routed);
    }

    /** The line for a routed call (or for its failure); counts it as decided or fallen back. */
    private String line(Directory dir, String caller, String called, String callerN,
            String calledN, RouteResult r, Throwable failure) {
        try {
            if (failure instanceof IllegalArgumentException) {
                throw new Refusal(failure.getMessage()); // a number no user or group has
            } else if (failure != null) {
                throw failure;
            }
            String line = answerLine(fields(dir, callerN, calledN, r));
            decided.incrementAndGet();
            return line;
        } catch (Throwable e) {
            return plain(caller, called, e);
        }
    }

    /** {@link #PLAIN}, counted and logged with the reason. */
    private String plain(String caller, String called, Throwable e) {
        fallbacks.incrementAndGet();
        if (e instanceof Refusal) {
            log.warning("sip: call from " + caller + " to " + called + " rings plainly: "
                    + e.getMessage());
        } else {
            log.error("sip: call from " + caller + " to " + called
                    + " rings plainly: the decision failed (" + e + ")");
        }
        return PLAIN;
    }

    private RouteResult route(String caller, String called) throws Exception {
        try {
            return core.route(caller, called);
        } catch (IllegalArgumentException e) {
            throw new Refusal(e.getMessage()); // a number no user or group has
        }
    }

    private Map<String, String> fields(Directory dir, String caller, String called,
            RouteResult r) throws Exception {
        String outcome = r.getOutcome();
        List<String> rings = r.getRings();
        List<String> forwarded = r.getForwardedTo();
        Party owner = dir.lookup(called);
        String ownerName = owner == null ? "" : owner.getName();
        Map<String, String> f = new HashMap<>();
        if (!forwarded.isEmpty() || "voicemail".equals(outcome)) {
            String display = r.getOriginallyCalled();
            if (display == null || display.isEmpty()) {
                display = ownerName.isEmpty() ? called : ownerName;
            }
            f.put("div", called);
            f.put("dname", SipNumbers.display(display));
        }
        f.put("cname", SipNumbers.display(ownerName.isEmpty() ? called : ownerName));
        if ("ring".equals(outcome) || "waiting".equals(outcome)) {
            f.put("act", "ring");
            f.put("aors", aors(dir, rings));
            f.put("users", String.join(",", rings));
            if (rings.size() == 1 && owner instanceof User) {
                missed(dir, caller, r, rings.get(0), owner.getId().equals(rings.get(0)), f,
                        "ring".equals(outcome));
            }
        } else if ("forward".equals(outcome) && !forwarded.isEmpty()) {
            f.put("act", "forward");
            f.put("to", forwarded.get(forwarded.size() - 1));
        } else if ("busy".equals(outcome)) {
            f.put("act", "busy");
        } else if ("voicemail".equals(outcome)) {
            f.put("act", "voicemail");
        } else {
            throw new Refusal("the routing core answered '" + outcome
                    + "', which the SIP front lacks");
        }
        return f;
    }

    /**
     * The TIMEOUT (and BUSY) redirect that takes over if the ringing user does not answer (or
     * the phone says busy), with the module effects the core reported for the called user.
     */
    private void missed(Directory dir, String caller, RouteResult r, String userId,
            boolean isTarget, Map<String, String> f, boolean busyToo) throws Exception {
        User user = dir.user(userId);
        if (user == null) {
            return;
        }
        List<Set<String>> effects = new ArrayList<>();
        if (isTarget) {
            for (String[] applied : r.getApplied()) {
                effects.add(new LinkedHashSet<>(Arrays.asList(applied).subList(1,
                        applied.length)));
            }
        }
        for (RedirectKind kind : new RedirectKind[] {RedirectKind.TIMEOUT, RedirectKind.BUSY}) {
            if (kind == RedirectKind.BUSY && !busyToo) {
                continue; // a waiting call: call waiting is on, the BUSY redirect is not used
            }
            Redirect red = effective(dir, user.getRedirect(kind), caller, userId, effects);
            if (red == null) {
                continue;
            }
            String p = kind == RedirectKind.TIMEOUT ? "t" : "b";
            String[] next = next(dir, caller, red.getDestination());
            f.put(p + "act", next[0]);
            f.put(p + "aors", next[1]);
            f.put(p + "to", next[2]);
            if (kind == RedirectKind.TIMEOUT) {
                f.put("tsec", String.valueOf(red.getSeconds()));
            }
        }
    }

    private String[] next(Directory dir, String caller, String destination) throws Exception {
        if (Redirect.VOICEMAIL.equals(destination)) {
            return new String[] {"voicemail", "", ""};
        }
        if (dir.lookup(destination) == null) {
            return new String[] {"forward", "", destination};
        }
        RouteResult r = route(caller, destination);
        String outcome = r.getOutcome();
        if ("ring".equals(outcome) || "waiting".equals(outcome)) {
            return new String[] {"ring", aors(dir, r.getRings()), ""};
        }
        List<String> forwarded = r.getForwardedTo();
        if ("forward".equals(outcome) && !forwarded.isEmpty()) {
            return new String[] {"forward", "", forwarded.get(forwarded.size() - 1)};
        }
        return new String[] {outcome, "", ""};
    }

    /** The redirect if it applies to this call (the core's rules for the module effects). */
    static Redirect effective(Directory dir, Redirect r, String caller, String userId,
            List<Set<String>> effects) {
        if (r == null || !r.isEnabled() || r.getDestination() == null) {
            return null;
        }
        if (!Redirect.VOICEMAIL.equals(r.getDestination())) {
            Party owner = dir.lookup(r.getDestination());
            if (owner != null && owner.getId().equals(userId)) {
                return null; // a forward to oneself is a loop, never followed
            }
        }
        for (Set<String> e : effects) {
            if (e.contains("bypass_redirects") && !e.contains("bypass_self_redirects_only")) {
                return null;
            }
        }
        for (Set<String> e : effects) {
            if (e.contains("bypass_self_redirects_only") && leadsTo(dir, r, caller)) {
                return null;
            }
        }
        return r;
    }

    /** "The redirect's destination is the caller": one of its forms, or the same party. */
    private static boolean leadsTo(Directory dir, Redirect r, String caller) {
        if (Redirect.VOICEMAIL.equals(r.getDestination()) || caller == null) {
            return false;
        }
        if (r.getDestinationForms().contains(caller)) {
            return true;
        }
        Party owner = dir.lookup(r.getDestination());
        return owner != null && dir.lookup(caller) == owner;
    }

    private static String aors(Directory dir, List<String> userIds) {
        StringBuilder b = new StringBuilder();
        for (String id : userIds) {
            User u = dir.user(id);
            if (u != null && u.getFirstNumber() != null) {
                if (b.length() > 0) {
                    b.append('.');
                }
                b.append(u.getFirstNumber());
            }
        }
        return b.toString();
    }

    // ---- events --------------------------------------------------------------------------

    /** A call event from Kamailio: {@code kind=start|end}, {@code callid}, users, ... */
    public void event(Map<String, String> query) {
        String kind = query.getOrDefault("kind", "");
        String callId = query.getOrDefault("callid", "");
        if (callId.isEmpty()) {
            return;
        }
        if (kind.equals("start")) {
            LinkedHashSet<String> users = new LinkedHashSet<>(names(query.get("users")));
            List<String> callee = names(query.get("callee"));
            if (callee.size() == 1) { // a group's ringing: who answered is not told; none busy
                users.addAll(callee);
            }
            calls.started(new CallsInProgress.Call(callId, query.getOrDefault("caller", ""),
                    query.getOrDefault("called", ""), new ArrayList<>(users),
                    System.currentTimeMillis() / 1000.0));
        } else if (kind.equals("end")) {
            calls.ended(callId);
        }
    }

    /** Kamailio prints an unset dialog variable as "<null>" (a call from a trunk). */
    private static List<String> names(String list) {
        List<String> out = new ArrayList<>();
        if (list == null) {
            return out;
        }
        for (String s : list.split(",")) {
            if (!s.isEmpty() && !s.equals("<null>")) {
                out.add(s);
            }
        }
        return out;
    }
}
