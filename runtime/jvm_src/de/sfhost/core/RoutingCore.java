package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.HookRegistry;
import de.sfhost.module.api.KernelHook;
import de.sfhost.module.api.ModuleLog;
import de.sfhost.module.api.RedirectKind;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The STARFACE-style routing core. A call comes in on one of the core's own worker threads;
 * the core determines the target from the directory, asks the hooks registered at stage
 * PostTargetDeterminationIncoming (user targets only), applies their overrides, and follows
 * the PBX's behaviour (DND, redirects ALWAYS/BUSY/TIMEOUT, call waiting, busy) along the
 * forwarding chain.
 *
 * <p>Hooks are fail-open: one that throws or does not answer within the time budget is skipped
 * for that call, the call routes as if the module were absent, and the reason is reported in
 * the result and in the module's log. Hooks are consulted once per call, for the target the PBX
 * determined from the called number; parties further along a forwarding chain get the plain PBX
 * behaviour.
 */
public final class RoutingCore implements HookRegistry {
    public static final int DEFAULT_WORKERS = 16;
    public static final long DEFAULT_BUDGET_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    public static final int DEFAULT_HOP_LIMIT = 8;

    private enum Step { RING, WAITING, BUSY, FORWARD }

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

    private static final class Registration {
        final String moduleId;
        final KernelHook hook;
        final ModuleLog log;

        Registration(String moduleId, KernelHook hook, ModuleLog log) {
            this.moduleId = moduleId;
            this.hook = hook;
            this.log = log;
        }
    }

    private volatile Directory directory = Directory.builder().build();
    private volatile Registration[] registrations = new Registration[0];
    /** module id -> reason, for modules the host switched off (e.g. trial expired). */
    private final Map<String, String> disabled = new ConcurrentHashMap<>();
    private volatile long budgetNanos = DEFAULT_BUDGET_NANOS;
    private volatile int hopLimit = DEFAULT_HOP_LIMIT;
    private volatile long answerSpinNanos = 0;
    private final AtomicLong callCounter = new AtomicLong();
    private final ExecutorService workers;
    private final ExecutorService hookThreads;
    private final int workerCount;

    public RoutingCore(int workerThreads) {
        this.workerCount = workerThreads;
        this.workers = Executors.newFixedThreadPool(workerThreads, daemonThreads("sfhost-call-"));
        this.hookThreads = Executors.newCachedThreadPool(daemonThreads("sfhost-hook-"));
    }

    public RoutingCore() {
        this(DEFAULT_WORKERS);
    }

    private static ThreadFactory daemonThreads(final String prefix) {
        final AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    // ---- configuration -------------------------------------------------------------------

    /** Replace the directory whole; calls in flight keep the one they started with. */
    public void setDirectory(Directory d) {
        if (d == null) {
            throw new IllegalArgumentException("directory is null");
        }
        this.directory = d;
    }

    public Directory getDirectory() {
        return directory;
    }

    /** The time a hook has to answer, per call (default 50 ms). */
    public void setHookBudgetMillis(double millis) {
        if (!(millis > 0)) {
            throw new IllegalArgumentException("the hook budget must be positive");
        }
        this.budgetNanos = (long) (millis * 1_000_000L);
    }

    public double getHookBudgetMillis() {
        return budgetNanos / 1_000_000.0;
    }

    /** How many forwards a call follows at most (default 8). */
    public void setHopLimit(int limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("the hop limit must not be negative");
        }
        this.hopLimit = limit;
    }

    public int getHopLimit() {
        return hopLimit;
    }

    /**
     * How long a worker polls for a hook's answer before it parks: trades a little CPU for
     * not paying a thread wake-up on fast answers (0: park at once).
     */
    public void setAnswerSpinNanos(long nanos) {
        this.answerSpinNanos = Math.max(0, nanos);
    }

    public int getWorkerCount() {
        return workerCount;
    }

    /** Stop the core's threads; calls already running finish, later ones are refused. */
    public void shutdown() {
        workers.shutdown();
        hookThreads.shutdown();
    }

    ExecutorService workers() {
        return workers;
    }

    // ---- hook registry -------------------------------------------------------------------

    @Override
    public void register(String moduleId, String stage, KernelHook hook, ModuleLog log) {
        if (!STAGE_POST_TARGET_DETERMINATION_INCOMING.equals(stage)) {
            throw new IllegalArgumentException("unknown stage " + stage);
        }
        if (moduleId == null || hook == null) {
            throw new IllegalArgumentException("module id and hook are required");
        }
        synchronized (this) {
            List<Registration> next = new ArrayList<>();
            boolean replaced = false;
            for (Registration r : registrations) {
                if (r.moduleId.equals(moduleId)) {
                    next.add(new Registration(moduleId, hook, log));
                    replaced = true;
                } else {
                    next.add(r);
                }
            }
            if (!replaced) {
                next.add(new Registration(moduleId, hook, log));
            }
            registrations = next.toArray(new Registration[0]);
        }
    }

    @Override
    public void register(String moduleId, String stage, KernelHook hook) {
        register(moduleId, stage, hook, null);
    }

    @Override
    public void unregister(String moduleId, String stage) {
        if (!STAGE_POST_TARGET_DETERMINATION_INCOMING.equals(stage)) {
            return;
        }
        synchronized (this) {
            List<Registration> next = new ArrayList<>();
            for (Registration r : registrations) {
                if (!r.moduleId.equals(moduleId)) {
                    next.add(r);
                }
            }
            registrations = next.toArray(new Registration[0]);
        }
    }

    /**
     * Switch a module's hook on or off for every later call (e.g. off when its trial ran out
     * unlicensed). A disabled module is not called; calls route as if it were absent. The
     * reason goes to the module's log.
     */
    public void setModuleEnabled(String moduleId, boolean enabled, String reason) {
        String before = enabled ? disabled.remove(moduleId) : disabled.put(moduleId, reason);
        boolean changed = enabled ? before != null : before == null;
        ModuleLog log = logOf(moduleId);
        if (changed && log != null) {
            if (enabled) {
                log.info("module enabled for calls" + (reason == null || reason.isEmpty()
                        ? "" : ": " + reason));
            } else {
                log.warn("module disabled for calls, calls route as if it were absent: "
                        + reason);
            }
        }
    }

    public boolean isModuleEnabled(String moduleId) {
        return !disabled.containsKey(moduleId);
    }

    private ModuleLog logOf(String moduleId) {
        for (Registration r : registrations) {
            if (r.moduleId.equals(moduleId)) {
                return r.log;
            }
        }
        return null;
    }

    // ---- routing -------------------------------------------------------------------------

    /** Route a call on one of the core's worker threads; the future holds the result. */
    public Future<RouteResult> submit(final String caller, final String called) {
        return workers.submit(() -> routeOnThisThread(caller, called));
    }

    /**
     * Route a call on a worker thread and wait for it. An unknown called number raises
     * IllegalArgumentException with a message naming it.
     */
    public RouteResult route(String caller, String called) throws Exception {
        try {
            return submit(caller, called).get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof Exception ? (Exception) c : e;
        }
    }

    /** {@link #route} as the JSON of `sfm call` (one string across the bridge). */
    public String routeJson(String caller, String called) throws Exception {
        return route(caller, called).toJson();
    }

    /**
     * Route a call on the current thread (the core's workers call this). {@code caller} is
     * null for a withheld number; both numbers as signalled, already normalised.
     */
    public RouteResult routeOnThisThread(String caller, String called) {
        Directory dir = directory;
        String callId = "call-" + callCounter.incrementAndGet();
        RouteResult result = new RouteResult(callId);
        Party target = dir.lookup(called);
        if (target == null) {
            throw new IllegalArgumentException(
                    "no user or group of the PBX directory has the number " + called);
        }
        Party callerParty = dir.lookup(caller);
        if (target instanceof Group) {
            ringGroup(dir, (Group) target, result);
            return result;
        }
        CallOverrides overrides = runHooks(new CallView(callId, caller, called, target), result);

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

    private static void ringGroup(Directory dir, Group g, RouteResult result) {
        for (String memberId : g.ringOrder()) {
            User m = dir.user(memberId);
            if (m != null && !m.dnd) {
                result.rings.add(m.id);
            }
        }
        result.outcome = result.rings.isEmpty() ? "busy" : "ring";
    }

    // ---- hooks ---------------------------------------------------------------------------

    /** Run every enabled hook within the budget and add up the answers that came in time. */
    private CallOverrides runHooks(CallContext ctx, RouteResult result) {
        Registration[] regs = registrations;
        if (regs.length == 0) {
            return null;
        }
        long start = System.nanoTime();
        long budget = budgetNanos;
        @SuppressWarnings("unchecked")
        CompletableFuture<CallOverrides>[] pending = new CompletableFuture[regs.length];
        for (int i = 0; i < regs.length; i++) {
            if (!disabled.containsKey(regs[i].moduleId)) {
                pending[i] = startHook(regs[i].hook, ctx);
            }
        }
        CallOverrides total = new CallOverrides();
        for (int i = 0; i < regs.length; i++) {
            CompletableFuture<CallOverrides> f = pending[i];
            if (f == null) {
                continue;
            }
            String error = null;
            String detail = null;
            try {
                spinUntilDone(f, start);
                long left = start + budget - System.nanoTime();
                CallOverrides answer = f.get(Math.max(0, left), TimeUnit.NANOSECONDS);
                total.addAll(answer);
            } catch (TimeoutException e) {
                f.cancel(false);
                error = "hook did not answer within " + formatMillis(budget)
                        + "; the call was routed as if the module were absent";
            } catch (ExecutionException | CompletionException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                if (cause instanceof CompletionException && cause.getCause() != null) {
                    cause = cause.getCause();
                }
                String message = cause instanceof HookFailure ? cause.getMessage()
                        : cause.toString();
                detail = cause instanceof HookFailure ? ((HookFailure) cause).getDetail()
                        : stackTrace(cause);
                error = "hook failed (" + message
                        + "); the call was routed as if the module were absent";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                f.cancel(false);
                error = "routing worker interrupted while waiting for the hook";
            } catch (java.util.concurrent.CancellationException e) {
                error = "hook was cancelled; the call was routed as if the module were absent";
            }
            if (error != null) {
                result.moduleErrors.add(regs[i].moduleId + ": " + error);
                if (regs[i].log != null) {
                    regs[i].log.error("call " + ctx.getCallId() + " from "
                            + (ctx.getCallerNumber() == null ? "anonymous" : ctx.getCallerNumber())
                            + " to " + ctx.getCalledNumber() + ": " + error
                            + (detail == null ? "" : "\n" + detail));
                }
            }
        }
        result.applied.addAll(total.getApplied());
        return total;
    }

    private void spinUntilDone(CompletableFuture<?> f, long start) {
        long spin = answerSpinNanos;
        if (spin <= 0) {
            return;
        }
        long until = start + spin;
        while (!f.isDone() && System.nanoTime() < until) {
            Thread.onSpinWait();
        }
    }

    private CompletableFuture<CallOverrides> startHook(final KernelHook hook,
            final CallContext ctx) {
        if (hook instanceof AsyncHook) {
            return ((AsyncHook) hook).start(ctx);
        }
        // A plain Java hook runs on a hook thread, so a hanging one cannot hold the worker.
        return CompletableFuture.supplyAsync(() -> {
            CallOverrides own = new CallOverrides();
            try {
                hook.onCall(ctx, own);
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new CompletionException(e);
            }
            return own;
        }, hookThreads);
    }

    private static String formatMillis(long nanos) {
        double ms = nanos / 1_000_000.0;
        return (ms == Math.rint(ms) ? String.valueOf((long) ms) : String.valueOf(ms)) + " ms";
    }

    private static String stackTrace(Throwable t) {
        java.io.StringWriter w = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }
}
