package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.KernelHook;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;

/** Timing helpers for bench/routing.py: calls measured on the core's own worker threads. */
public final class RoutingBench {
    private RoutingBench() {
    }

    /** {@code calls} calls one after another on one worker thread; each call's nanoseconds. */
    public static long[] sequential(final RoutingCore core, final String caller,
            final String called, final int calls) throws Exception {
        return core.workers().submit(() -> {
            long[] t = new long[calls];
            for (int i = 0; i < calls; i++) {
                long s = System.nanoTime();
                core.routeOnThisThread(caller, called);
                t[i] = System.nanoTime() - s;
            }
            return t;
        }).get();
    }

    /**
     * {@code callers} worker threads each making {@code callsEach} calls at the same time;
     * every call's nanoseconds, all callers together.
     */
    public static long[] concurrent(final RoutingCore core, final String caller,
            final String called, final int callers, final int callsEach) throws Exception {
        if (callers > core.getWorkerCount()) {
            throw new IllegalArgumentException("more callers than worker threads");
        }
        final CountDownLatch ready = new CountDownLatch(callers);
        final CountDownLatch go = new CountDownLatch(1);
        List<Future<long[]>> futures = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            futures.add(core.workers().submit(() -> {
                long[] t = new long[callsEach];
                ready.countDown();
                go.await();
                for (int i = 0; i < callsEach; i++) {
                    long s = System.nanoTime();
                    core.routeOnThisThread(caller, called);
                    t[i] = System.nanoTime() - s;
                }
                return t;
            }));
        }
        ready.await();
        go.countDown();
        long[] all = new long[callers * callsEach];
        int k = 0;
        for (Future<long[]> f : futures) {
            for (long v : f.get()) {
                all[k++] = v;
            }
        }
        return all;
    }

    /** Total nanoseconds of {@code n} calls of {@code hook} from the current thread. */
    public static long callHookHere(KernelHook hook, CallContext ctx, int n) throws Exception {
        long s = System.nanoTime();
        for (int i = 0; i < n; i++) {
            hook.onCall(ctx, new CallOverrides());
        }
        return System.nanoTime() - s;
    }

    /** The call context the core would hand hooks for this call (a user target). */
    public static CallContext contextFor(RoutingCore core, String caller, String called) {
        Party target = core.getDirectory().lookup(called);
        if (target == null) {
            throw new IllegalArgumentException("no party has the number " + called);
        }
        return new CallView("bench", caller, called, target);
    }
}
