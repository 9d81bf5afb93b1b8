package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.HookRegistry;
import de.sfhost.module.api.KernelHook;
import de.sfhost.module.api.ModuleLog;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

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
 *
 * <p>Hooks run directly on the call's worker thread, one after another, each with the whole
 * budget from the moment it is asked. A watchdog thread enforces the budget: when a hook
 * overruns, the watchdog records the error, and a new worker carries the call on (the next
 * hooks, then the routing) and completes its result; the stuck worker is left behind, ends once
 * the hook returns (its late answer is discarded), and is not counted in the pool meanwhile. A
 * hook with as many calls stuck in it as the pool has workers is skipped at once, so a hook
 * that hangs for good cannot make the core start thread after thread.
 *
 * <p>{@link #routeHere} routes on a thread that is not a worker (the SIP decision service's,
 * so a decision costs no hand-off between threads): the watchdog watches that thread's hooks
 * alike, and when one overruns, a new thread carries the call on and completes its result
 * while the calling thread is still in the hook.
 *
 * <p>Parts: {@link ModuleHooks} holds the registered hooks, the switched-off modules and the
 * licence deadlines, {@link ForwardingRules} the PBX's behaviour (pure, no threads); this
 * class is the call loop: its workers and the watchdog. No module code runs in the host's
 * Python interpreter on the way: a module's Python code answers from a process of its own
 * ({@link ModuleProcess}).
 */
public final class RoutingCore implements HookRegistry {
    public static final int DEFAULT_WORKERS = 16;
    public static final long DEFAULT_BUDGET_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    public static final int DEFAULT_HOP_LIMIT = 8;

    private volatile Directory directory = Directory.builder().build();
    private final ModuleHooks hooks = new ModuleHooks();
    private volatile long budgetNanos = DEFAULT_BUDGET_NANOS;
    private volatile int hopLimit = DEFAULT_HOP_LIMIT;
    private volatile ForwardingRules rules = new ForwardingRules(DEFAULT_HOP_LIMIT);
    private final AtomicLong callCounter = new AtomicLong();
    private final WorkerPool workers;
    private final int workerCount;
    private final Thread watchdog;
    /** The slots of the threads in {@link #routeHere} right now (workers have their own). */
    private final Set<WorkerPool.HookSlot> guests = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger CORES = new AtomicInteger();

    public RoutingCore(int workerThreads) {
        int n = CORES.incrementAndGet();
        this.workerCount = workerThreads;
        this.workers = new WorkerPool(workerThreads, "sfhost-call-" + n + "-");
        this.watchdog = new Thread(this::watch, "sfhost-watchdog-" + n);
        this.watchdog.setDaemon(true);
        this.watchdog.start();
    }

    public RoutingCore() {
        this(DEFAULT_WORKERS);
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
        this.rules = new ForwardingRules(limit, rules.turnsRotation());
    }

    /** Route without turning round-robin groups (a core that replays calls, EffectChanges). */
    void holdGroupRotation() {
        this.rules = new ForwardingRules(hopLimit, false);
    }

    public int getHopLimit() {
        return hopLimit;
    }

    public int getWorkerCount() {
        return workerCount;
    }

    /** Stop the core's threads; calls already queued finish, later ones are refused. */
    public void shutdown() {
        workers.shutdown();
        LockSupport.unpark(watchdog);
    }

    /**
     * Wait up to {@code millis} for the worker threads to end after {@link #shutdown}; false
     * if some are still running (e.g. stuck in a hook that has not returned).
     */
    public boolean awaitTermination(double millis) throws InterruptedException {
        return workers.awaitTermination((long) (millis * 1_000_000L), TimeUnit.NANOSECONDS);
    }

    WorkerPool workers() {
        return workers;
    }

    // ---- hook registry (ModuleHooks) --------------------------------------------------

    @Override
    public void register(String moduleId, String stage, KernelHook hook, ModuleLog log) {
        hooks.register(moduleId, stage, hook, log);
    }

    @Override
    public void register(String moduleId, String stage, KernelHook hook) {
        hooks.register(moduleId, stage, hook, null);
    }

    @Override
    public void unregister(String moduleId, String stage) {
        hooks.unregister(moduleId, stage);
    }

    /** See {@link ModuleHooks#setModuleEnabled}. */
    public void setModuleEnabled(String moduleId, boolean enabled, String reason) {
        hooks.setModuleEnabled(moduleId, enabled, reason);
    }

    public boolean isModuleEnabled(String moduleId) {
        return hooks.isModuleEnabled(moduleId);
    }

    /** See {@link ModuleHooks#setAllowedFor}: the licence gate, checked on every call. */
    public void setModuleAllowedFor(String moduleId, double seconds) {
        hooks.setAllowedFor(moduleId, seconds);
    }

    // ---- routing -------------------------------------------------------------------------

    /** Route a call on one of the core's worker threads; the future holds the result. */
    public Future<RouteResult> submit(final String caller, final String called) {
        final CompletableFuture<RouteResult> done = new CompletableFuture<>();
        workers.execute(() -> start(caller, called, done, null));
        return done;
    }

    /**
     * Route a call on a worker thread and wait for it. An unknown called number raises
     * IllegalArgumentException with a message naming it.
     */
    public RouteResult route(String caller, String called) throws Exception {
        return await(submit(caller, called));
    }

    /** {@link #route} as the JSON of `sfm call` (one string across the bridge). */
    public String routeJson(String caller, String called) throws Exception {
        return route(caller, called).toJson();
    }

    /**
     * Route a call on the current thread when it is one of this core's workers (the benchmark
     * measures calls this way), else on a worker as {@link #route} does. {@code caller} is null
     * for a withheld number; both numbers as signalled, already normalised. If a hook overruns
     * the budget, the result comes from the worker that carried the call on, once this thread's
     * hook has returned.
     */
    public RouteResult routeOnThisThread(String caller, String called) throws Exception {
        Thread t = Thread.currentThread();
        if (!(t instanceof WorkerPool.Worker) || ((WorkerPool.Worker) t).pool != workers) {
            return route(caller, called);
        }
        CompletableFuture<RouteResult> done = new CompletableFuture<>();
        start(caller, called, done, null);
        return await(done);
    }

    /**
     * Route a call on the calling thread, with no hand-off to a worker, completing {@code done}
     * (an unknown called number completes it with IllegalArgumentException). The watchdog
     * watches this thread's hooks as it watches a worker's: when one overruns its budget, a new
     * thread carries the call on and completes {@code done} while this thread is still in the
     * hook; callbacks on {@code done} run on whichever thread completes it. Returns when this
     * thread is done with the call: usually with {@code done} completed; after an overrun, once
     * the late hook has returned, and {@code done} may still be open then.
     */
    public void routeHere(String caller, String called, CompletableFuture<RouteResult> done) {
        WorkerPool.HookSlot self = new WorkerPool.HookSlot(null);
        guests.add(self);
        try {
            start(caller, called, done, self);
        } finally {
            guests.remove(self);
        }
    }

    private static RouteResult await(Future<RouteResult> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof Exception ? (Exception) c : e;
        }
    }

    /** One call to a user between target determination and routing; see {@link #carryOn}. */
    private final class RoutedCall {
        final String caller;
        final String called;
        final Directory dir;
        final User target;
        final CallView ctx;
        final RouteResult result;
        final ModuleHooks.Registration[] regs;
        final long budget;
        final CompletableFuture<RouteResult> done;
        final CallOverrides total = new CallOverrides();
        // Guarded by this: the worker carrying the call and the watchdog both change them.
        /** The next registration to ask. */
        int next;
        /** Which carrier owns the call; the watchdog moves it on when it gives up a hook. */
        int epoch;
        /** The registration being asked (-1: none) and when its budget ends. */
        int asking = -1;
        long deadline;

        RoutedCall(String caller, String called, Directory dir, User target, RouteResult result,
                ModuleHooks.Registration[] regs, CompletableFuture<RouteResult> done) {
            this.caller = caller;
            this.called = called;
            this.dir = dir;
            this.target = target;
            this.ctx = new CallView(result.callId, caller, called, target);
            this.result = result;
            this.regs = regs;
            this.budget = budgetNanos;
            this.done = done;
        }

        /** Skip registration {@code r} for this call: result and module log say why. */
        void skip(ModuleHooks.Registration r, String error, String detail) {
            result.moduleErrors.add(r.moduleId + ": " + error);
            if (r.log != null) {
                r.log.error("call " + ctx.getCallId() + " from "
                        + (caller == null ? "anonymous" : caller) + " to " + called + ": " + error
                        + (detail == null ? "" : "\n" + detail));
            }
        }

        /** Watchdog: if the hook {@code slot}'s thread asks for this call overran, give it up. */
        void overrun(WorkerPool.HookSlot slot, long now) {
            synchronized (this) {
                if (asking < 0 || slot.asking != this || now - deadline < 0) {
                    return;
                }
                ModuleHooks.Registration r = regs[asking];
                r.stuck.incrementAndGet();
                skip(r, "hook did not answer within " + formatMillis(budget)
                        + "; the call was routed as if the module were absent", null);
                asking = -1;
                final int nextEpoch = ++epoch;
                try {
                    // Not a worker (null): replace() starts a thread that ends after the call.
                    workers.replace(slot.worker, () -> carryOn(this, nextEpoch, null));
                } catch (Throwable e) {
                    // No thread to carry the call on (e.g. none can be created): the call
                    // still goes through, without the hooks not yet asked.
                    while (next < regs.length) {
                        ModuleHooks.Registration later = regs[next++];
                        if (!hooks.isDisabled(later.moduleId)) {
                            skip(later, "hook skipped, no worker thread was free to ask it ("
                                    + e + "); the call was routed as if the module were absent",
                                    null);
                        }
                    }
                    try {
                        result.applied.addAll(total.getApplied());
                        done.complete(rules.follow(dir, target, caller, called, total, result));
                    } catch (Throwable f) {
                        done.completeExceptionally(f);
                    }
                }
            }
        }
    }

    /**
     * Determine the target and route the call, completing {@code done}, on this thread
     * ({@code guest}: its slot when it is no worker); when a hook overruns, another thread
     * completes it (see {@link #carryOn}).
     */
    private void start(String caller, String called, CompletableFuture<RouteResult> done,
            WorkerPool.HookSlot guest) {
        RoutedCall c;
        try {
            Directory dir = directory;
            String callId = "call-" + callCounter.incrementAndGet();
            RouteResult result = new RouteResult(callId);
            Party target = dir.lookup(called);
            if (target == null) {
                throw new IllegalArgumentException(
                        "no user or group of the PBX directory has the number " + called);
            }
            if (target instanceof Group) {
                rules.ringGroup(dir, (Group) target, result);
                done.complete(result);
                return;
            }
            c = new RoutedCall(caller, called, dir, (User) target, result, hooks.snapshot(), done);
        } catch (Throwable t) {
            done.completeExceptionally(t);
            return;
        }
        carryOn(c, 0, guest);
    }

    /**
     * Ask the call's remaining hooks, each on this thread within the budget, then route and
     * complete the call; {@code epoch} is the carrier's claim on the call. A carrier whose hook
     * the watchdog gave up on drops out when the hook returns: its answer is discarded.
     * {@code guest} is this thread's slot when it is no worker ({@link #routeHere}).
     */
    private void carryOn(RoutedCall c, int epoch, WorkerPool.HookSlot guest) {
        try {
            Thread t = Thread.currentThread();
            WorkerPool.HookSlot slot = guest != null ? guest
                    : t instanceof WorkerPool.Worker ? ((WorkerPool.Worker) t).slot : null;
            int stuckLimit = Math.max(2, workerCount);
            while (true) {
                ModuleHooks.Registration r = null;
                synchronized (c) {
                    if (c.epoch != epoch) {
                        return;
                    }
                    while (c.next < c.regs.length) {
                        ModuleHooks.Registration candidate = c.regs[c.next++];
                        if (hooks.isDisabled(candidate.moduleId)) {
                            continue;
                        }
                        int stuck = candidate.stuck.get();
                        if (stuck >= stuckLimit) {
                            c.skip(candidate, "hook skipped, " + stuck + " earlier calls are"
                                    + " still waiting for it; the call was routed as if the"
                                    + " module were absent", null);
                            continue;
                        }
                        r = candidate;
                        c.asking = c.next - 1;
                        c.deadline = System.nanoTime() + c.budget;
                        c.ctx.budget = c.budget;
                        c.ctx.deadline = c.deadline;
                        break;
                    }
                }
                if (r == null) {
                    break;
                }
                if (slot != null) {
                    slot.asking = c;
                }
                CallOverrides own = new CallOverrides();
                Throwable failure = null;
                try {
                    r.hook.onCall(c.ctx, own);
                } catch (Throwable e) {
                    failure = e;
                }
                if (slot != null) {
                    slot.asking = null;
                }
                synchronized (c) {
                    if (c.epoch != epoch) {
                        // The watchdog gave this hook up: the late answer is discarded.
                        r.stuck.decrementAndGet();
                        return;
                    }
                    c.asking = -1;
                    if (failure == null) {
                        c.total.addAll(own);
                    } else {
                        String message = failure instanceof HookFailure ? failure.getMessage()
                                : failure.toString();
                        String detail = failure instanceof HookFailure
                                ? ((HookFailure) failure).getDetail() : stackTrace(failure);
                        c.skip(r, "hook failed (" + message
                                + "); the call was routed as if the module were absent", detail);
                    }
                }
            }
            RouteResult result;
            synchronized (c) {
                result = c.result;
                result.applied.addAll(c.total.getApplied());
            }
            c.done.complete(rules.follow(c.dir, c.target, c.caller, c.called,
                    c.regs.length == 0 ? null : c.total, result));
        } catch (Throwable e) {
            c.done.completeExceptionally(e);
        }
    }

    /** The watchdog's loop: gives up overrunning hooks, until the core is shut down and idle. */
    private void watch() {
        while (!(workers.isShutdown() && workers.workers().isEmpty())) {
            long tick = Math.max(500_000L, Math.min(budgetNanos / 10, 5_000_000L));
            LockSupport.parkNanos(this, tick);
            long now = System.nanoTime();
            for (WorkerPool.Worker w : workers.workers()) {
                giveUpIfOverrun(w.slot, now);
            }
            for (WorkerPool.HookSlot g : guests) {
                giveUpIfOverrun(g, now);
            }
        }
    }

    /** The watchdog's look at one thread: its hook given up if it overran the budget. */
    private static void giveUpIfOverrun(WorkerPool.HookSlot slot, long now) {
        Object asked = slot.asking;
        if (asked instanceof RoutedCall) {
            try {
                ((RoutedCall) asked).overrun(slot, now);
            } catch (Throwable e) {
                // e.g. no thread could be started: try again on the next tick
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------

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
