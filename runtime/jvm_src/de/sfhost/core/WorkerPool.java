package de.sfhost.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The routing core's worker threads: a fixed number of Java-owned daemon threads taking calls
 * from one queue.
 *
 * <p>Unlike a plain thread pool, a worker stuck in a hook can be replaced: {@link #replace}
 * starts a new worker (which first carries on the stuck call) and lets the stuck one end once
 * its task returns, so the pool keeps its size of working threads.
 */
final class WorkerPool extends AbstractExecutorService {
    /**
     * What a thread routing a call is asking right now: the core's watchdog reads it to find
     * overrunning hooks. Every worker has one; a thread that routes a call itself (the core's
     * {@code routeHere}) gets one with no worker.
     */
    static final class HookSlot {
        /** The worker this slot belongs to (null: a thread that is no worker). */
        final Worker worker;
        /** The call whose hook the thread is running right now (null: none). */
        volatile Object asking;

        HookSlot(Worker worker) {
            this.worker = worker;
        }
    }

    /** A pool thread, with its {@link HookSlot}. */
    static final class Worker extends Thread {
        final WorkerPool pool;
        private final Runnable first;
        final HookSlot slot = new HookSlot(this);
        /** Set when a replacement took over: end after the current task. */
        volatile boolean retiring;

        Worker(WorkerPool pool, String name, Runnable first, boolean retiring) {
            super(name);
            this.pool = pool;
            this.first = first;
            this.retiring = retiring;
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                pool.serve(this, first);
            } finally {
                pool.ended(this);
            }
        }
    }

    private static final Runnable STOP = () -> { };

    private final int size;
    private final String prefix;
    private final LinkedBlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    private final Set<Worker> live = ConcurrentHashMap.newKeySet();
    private final AtomicInteger names = new AtomicInteger();
    /** Workers that are not retiring (at most {@link #size}); one started per task until full. */
    private int serving;
    private volatile boolean shutdown;

    WorkerPool(int size, String prefix) {
        if (size < 1) {
            throw new IllegalArgumentException("a core needs at least one worker thread");
        }
        this.size = size;
        this.prefix = prefix;
    }

    int size() {
        return size;
    }

    /** The live workers (including retiring ones still stuck in a hook). */
    Set<Worker> workers() {
        return live;
    }

    @Override
    public void execute(Runnable task) {
        if (task == null) {
            throw new NullPointerException();
        }
        synchronized (this) {
            if (shutdown) {
                throw new RejectedExecutionException("the routing core is shut down");
            }
            // As a fixed thread pool does: a new worker for each task, with the task as its
            // first, until the pool is full.
            if (serving < size) {
                start(task, false);
                serving++;
                return;
            }
            tasks.add(task); // under the lock: never behind the STOP of a shutdown
        }
    }

    /**
     * {@code stuck} is left behind in a hook: it ends after its current task, and a new worker
     * starts with {@code carryOn} (the stuck call's continuation) as its first task. After a
     * shutdown, {@code carryOn} still runs, on a thread that ends afterwards.
     */
    void replace(Worker stuck, Runnable carryOn) {
        synchronized (this) {
            boolean member = stuck != null && !stuck.retiring && stuck.pool == this;
            if (member) {
                stuck.retiring = true;
            }
            start(carryOn, shutdown || !member);
        }
    }

    private void start(Runnable first, boolean retiring) {
        Worker w = new Worker(this, prefix + names.incrementAndGet(), first, retiring);
        live.add(w);
        w.start();
    }

    private void serve(Worker self, Runnable first) {
        try {
            Runnable task = first;
            while (true) {
                if (task == null) {
                    if (self.retiring) {
                        break;
                    }
                    try {
                        task = tasks.take();
                    } catch (InterruptedException e) {
                        if (shutdown) {
                            break;
                        }
                        continue;
                    }
                    if (task == STOP) {
                        tasks.add(STOP); // the next idle worker stops too
                        break;
                    }
                }
                try {
                    task.run();
                } catch (Throwable t) {
                    // A task's own failure (FutureTask and the core catch theirs already).
                }
                task = null;
                if (self.retiring) {
                    break;
                }
            }
        } finally {
            synchronized (this) {
                if (!self.retiring) {
                    serving--;
                    self.retiring = true; // counted out once
                }
            }
        }
    }

    private void ended(Worker self) {
        live.remove(self);
        synchronized (this) {
            notifyAll();
        }
    }

    @Override
    public void shutdown() {
        synchronized (this) {
            if (shutdown) {
                return;
            }
            shutdown = true;
        }
        tasks.add(STOP);
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown();
        List<Runnable> left = new ArrayList<>();
        tasks.drainTo(left);
        left.remove(STOP);
        tasks.add(STOP);
        for (Worker w : live) {
            w.interrupt();
        }
        return left;
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return shutdown && live.isEmpty();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        long until = System.nanoTime() + unit.toNanos(timeout);
        synchronized (this) {
            while (!isTerminated()) {
                long left = until - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
        return true;
    }
}
