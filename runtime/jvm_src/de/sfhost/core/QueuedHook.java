package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.CallOverrides;
import de.sfhost.module.api.KernelHook;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The bridge to a hook written in Python. A routing worker does not call Python itself (a
 * Java-owned thread entering Python pays for a fresh Python thread state on every call);
 * it queues a {@link HookRequest}, and long-lived Python-started threads take requests from
 * {@link #take()} and answer them. The worker waits for the answer within the time budget.
 */
public final class QueuedHook implements KernelHook, AsyncHook {
    private static final HookRequest CLOSED = new HookRequest("", null);
    private final LinkedBlockingQueue<HookRequest> queue = new LinkedBlockingQueue<>();
    private volatile int spinNanos;
    private volatile boolean closed;
    /** The request each serving thread is working on (see {@link #answerAndTake}). */
    private final ThreadLocal<HookRequest> current = new ThreadLocal<>();

    /** {@code spinNanos}: how long {@link #take()} polls before it parks (0: park at once). */
    public QueuedHook(int spinNanos) {
        this.spinNanos = spinNanos;
    }

    public QueuedHook() {
        this(0);
    }

    /** How long {@link #take()} polls before it parks, from now on. */
    public void setSpinNanos(int nanos) {
        this.spinNanos = Math.max(0, nanos);
    }

    @Override
    public CompletableFuture<CallOverrides> start(CallContext ctx) {
        HookRequest r = new HookRequest(ctx.getCalledNumber(), ctx.getCallerNumber());
        if (closed) {
            r.fail("the module's hook is closed", null);
        } else {
            queue.add(r);
        }
        return r.future;
    }

    /** How long the synchronous {@link #onCall} waits at most, so no caller blocks forever. */
    public static final long SYNC_WAIT_MILLIS = 10_000;

    /**
     * The synchronous form, for callers outside the core (e.g. a module's Java entry class
     * wrapping this hook); waits at most {@link #SYNC_WAIT_MILLIS}. The core itself uses
     * {@link #start} and its own time budget.
     */
    @Override
    public void onCall(CallContext ctx, CallOverrides overrides) throws Exception {
        CompletableFuture<CallOverrides> f = start(ctx);
        try {
            overrides.addAll(f.get(SYNC_WAIT_MILLIS, TimeUnit.MILLISECONDS));
        } catch (java.util.concurrent.TimeoutException e) {
            f.cancel(false);
            throw e;
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception ? (Exception) e.getCause() : e;
        }
    }

    /**
     * The next request still waiting for an answer; blocks. Returns null once the hook is
     * closed, which tells the Python thread to end. Requests whose worker gave up are dropped.
     */
    public HookRequest take() throws InterruptedException {
        while (true) {
            HookRequest r = null;
            if (spinNanos > 0) {
                long until = System.nanoTime() + spinNanos;
                while ((r = queue.poll()) == null && System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
            }
            if (r == null) {
                r = queue.take();
            }
            if (r == CLOSED) {
                queue.add(CLOSED); // wake the next taker too
                return null;
            }
            if (!r.isDone()) {
                return r;
            }
        }
    }

    /**
     * The serving loop in one bridge crossing per call: answer the request this thread took
     * last (if any) and block for the next one. Returns the next call's numbers as
     * "called" or "called US caller" ({@link HookRequest#UNIT_SEP}; no caller: withheld), or
     * null once the hook is closed.
     */
    public String answerAndTake(int flags, String applied) throws InterruptedException {
        HookRequest done = current.get();
        if (done != null) {
            current.remove();
            done.answer(flags, applied);
        }
        return takeNumbers();
    }

    /** Like {@link #answerAndTake} but the request this thread took last failed. */
    public String failAndTake(String message, String detail) throws InterruptedException {
        HookRequest done = current.get();
        if (done != null) {
            current.remove();
            done.fail(message, detail);
        }
        return takeNumbers();
    }

    /** Block for the next request and remember it for this thread; its numbers, or null. */
    public String takeNumbers() throws InterruptedException {
        HookRequest r = take();
        if (r == null) {
            return null;
        }
        current.set(r);
        return r.caller == null ? r.called : r.called + HookRequest.UNIT_SEP + r.caller;
    }

    /** Like {@link #take()} but gives up after {@code millis} and returns null. */
    public HookRequest poll(long millis) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (true) {
            long left = until - System.nanoTime();
            HookRequest r = queue.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (r == null || r == CLOSED) {
                if (r == CLOSED) {
                    queue.add(CLOSED);
                }
                return null;
            }
            if (!r.isDone()) {
                return r;
            }
        }
    }

    /** Stop: pending and later requests fail at once, and every taker gets null. */
    public void close() {
        closed = true;
        HookRequest r;
        while ((r = queue.poll()) != null) {
            if (r != CLOSED) {
                r.fail("the module's hook is closed", null);
            }
        }
        queue.add(CLOSED);
    }

    public boolean isClosed() {
        return closed;
    }
}
