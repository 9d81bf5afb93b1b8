package de.sfhost.core;

import de.sfhost.module.api.LogLevel;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One started process of a module's Python code, with its pipe, its reader thread, its call
 * socket and its unanswered requests (the frames of runtime/modules/process_protocol.py).
 * Requests go over the process's stdin; call answers (with the log lines written during the
 * call) come back on the {@link CallChannel}, read by the threads that wait for them;
 * everything else (answers to other requests, other log lines, the end of the process) on its
 * stdout, read by the reader thread.
 * {@link ModuleProcess} decides when to start, restart and kill one.
 */
public final class ModulePipe {
    /** What the owner hears from the reader thread. */
    interface Listener {
        /** A LOG frame: a line for one of the module's instance logs. */
        void line(String instance, LogLevel level, String message);

        /** The process ended (or wrote something that is not a frame). */
        void ended(ModulePipe pipe);
    }

    /**
     * Processes are started from this one long-lived thread: the child asks the kernel to end
     * it when the thread that started it ends (PR_SET_PDEATHSIG). The thread is started with
     * the class ({@link #prepare}), not at the first spawn: a thread keeps the access context
     * of the stack that made it, and a first spawn has a module's classes on the stack, whose
     * class loader the thread would then keep alive after the module is removed.
     */
    private static final ThreadPoolExecutor SPAWNER = new ThreadPoolExecutor(1, 1, 0,
            TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "sfhost-module-spawner");
                t.setDaemon(true);
                return t;
            });

    static {
        SPAWNER.prestartCoreThread();
    }

    /** Start the spawner thread now (called where no module's classes are on the stack). */
    static void prepare() {
        // Initialising the class is the work; see SPAWNER.
    }

    final Process process;
    private final Listener listener;
    private final Thread reader;
    private final CallChannel callChannel;
    final DataOutputStream out;
    final ConcurrentHashMap<Integer, Pending> pending = new ConcurrentHashMap<>();
    final AtomicInteger calls = new AtomicInteger();
    final AtomicInteger ids = new AtomicInteger();
    /** What the turn's holder does with the frames on the call socket. */
    private final CallChannel.Sink callFrames = new CallChannel.Sink() {
        @Override
        public void answer(int id, String text) {
            answered(id, text);
        }

        @Override
        public void log(String text) {
            logLine(text);
        }
    };
    volatile String killedFor;

    private ModulePipe(Process process, String name, Listener listener,
            CallChannel callChannel) {
        this.process = process;
        this.listener = listener;
        this.callChannel = callChannel;
        this.reader = new Thread(this::read, "sfhost-module-reader-" + name);
        this.reader.setDaemon(true);
        this.out = new DataOutputStream(new BufferedOutputStream(process.getOutputStream(),
                1 << 16));
    }

    /**
     * Start {@code builder}'s process from the spawner thread; its stderr is appended to
     * {@code errorFile} (made only when there is something to write; null: dropped).
     */
    static ModulePipe spawn(ProcessBuilder builder, String name, File errorFile,
            Listener listener) throws HookFailure {
        builder.redirectError(errorFile == null ? ProcessBuilder.Redirect.DISCARD
                : ProcessBuilder.Redirect.PIPE);
        CallChannel callChannel;
        try {
            callChannel = CallChannel.open();
        } catch (IOException e) {
            throw new HookFailure("its call socket cannot be made (" + e + ")", null);
        }
        builder.environment().put(CallChannel.ENV, callChannel.address());
        try {
            Process process = SPAWNER.submit(builder::start).get();
            if (errorFile != null) {
                Thread drain = new Thread(() -> drain(process.getErrorStream(), errorFile),
                        "sfhost-module-stderr-" + name);
                drain.setDaemon(true);
                drain.start();
            }
            return new ModulePipe(process, name, listener, callChannel);
        } catch (ExecutionException e) {
            callChannel.close();
            throw new HookFailure("its Python process cannot be started (" + e.getCause() + ")",
                    null);
        } catch (InterruptedException e) {
            callChannel.close();
            Thread.currentThread().interrupt();
            throw new HookFailure("interrupted while starting its Python process", null);
        }
    }

    /** Copy what the process writes to stderr into {@code file}, until it ends. */
    private static void drain(InputStream in, File file) {
        byte[] buffer = new byte[8192];
        OutputStream out = null;
        try {
            int n;
            while ((n = in.read(buffer)) > 0) {
                if (out == null) {
                    File parent = file.getParentFile();
                    if (parent != null) {
                        parent.mkdirs();
                    }
                    out = new FileOutputStream(file, true);
                }
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // the process ended, or the file cannot be written: its output is lost
        } finally {
            try {
                in.close();
                if (out != null) {
                    out.close();
                }
            } catch (IOException e) {
                // nothing more to do
            }
        }
    }

    void startReading() {
        reader.start();
    }

    /**
     * Take the process's connection to its call socket, once it answered a request (it
     * connects before it reads one). Throws with the reason when it did not connect.
     */
    void acceptCalls() throws HookFailure {
        try {
            callChannel.accept();
        } catch (IOException e) {
            throw new HookFailure(e.getMessage(), null);
        }
    }

    /** Fail every unanswered request with {@code reason}; the call socket closes. */
    void failAll(String reason) {
        callChannel.close();
        IOException gone = new IOException(reason);
        for (Integer id : pending.keySet()) {
            Pending p = pending.remove(id);
            if (p != null) {
                p.answer.completeExceptionally(gone);
                wake(p);
            }
        }
        calls.set(0);
    }

    /** The answer to request {@code id} arrived. */
    private void answered(int id, String text) {
        Pending p = pending.remove(id);
        if (p != null) {
            if (p.kind == ModuleProcess.CALL) {
                calls.decrementAndGet();
            }
            p.answer.complete(text);
            wake(p);
        }
    }

    private static void wake(Pending p) {
        Thread waiter = p.waiter;
        if (waiter != null) {
            LockSupport.unpark(waiter);
        }
    }

    /**
     * Wait up to {@code waitNanos} for the answer to call {@code p} (sent by this thread),
     * taking the reading turn of the call socket when it is free (see {@link CallChannel}).
     * Throws TimeoutException past the wait, ExecutionException when the process ended. An
     * interrupt does not cut the wait short (it is bounded by the call's deadline anyway); the
     * thread is interrupted again when it returns.
     */
    String awaitCall(Pending p, long waitNanos) throws TimeoutException, ExecutionException {
        long deadline = System.nanoTime() + waitNanos;
        // Parking and selecting return at once while the flag is set: cleared here, or a
        // thread that module code left interrupted would spin until its answer or deadline.
        boolean interrupted = Thread.interrupted();
        try {
            while (!p.answer.isDone()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException();
                }
                if (callChannel.broken() != null) {
                    // The process is ending, or was killed for a failed socket (below): its
                    // reader fails every call then, which unparks this thread.
                    parkUntilAnswered(p, left);
                } else if (callChannel.tryTurn()) {
                    try {
                        callChannel.readUntil(p.answer::isDone, deadline, callFrames);
                    } finally {
                        callChannel.endTurn();
                    }
                    String failure = callChannel.failure();
                    if (failure != null) {
                        kill(failure); // started again; its reader then fails every call
                    }
                } else {
                    // Until the reader completes our answer or passes the turn on (both
                    // unpark this thread).
                    LockSupport.parkNanos(this, left);
                }
                interrupted |= Thread.interrupted();
            }
            return p.answer.getNow(null);
        } catch (CompletionException e) {
            throw new ExecutionException(e.getCause());
        } finally {
            p.waiter = null;
            passTurnOn();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Park up to {@code nanos} or until {@code p} is answered (its completion unparks). */
    private void parkUntilAnswered(Pending p, long nanos) {
        if (!p.answer.isDone()) {
            LockSupport.parkNanos(this, nanos);
        }
    }

    /**
     * A thread stops waiting: when no one reads, wake the oldest call still waiting (its answer
     * comes next: the process answers calls in order) to take the turn. One, not all: the one
     * woken passes it on in turn when it leaves, so no waiter is left parked with the turn
     * free, and sixteen waiting callers do not all wake for each answer.
     */
    private void passTurnOn() {
        if (callChannel.turnTaken()) {
            return; // its holder passes it on when it leaves
        }
        Pending oldest = null;
        int oldestId = Integer.MAX_VALUE;
        for (var e : pending.entrySet()) {
            if (e.getValue().waiter != null && e.getKey() < oldestId) {
                oldestId = e.getKey();
                oldest = e.getValue();
            }
        }
        if (oldest != null) {
            wake(oldest);
        }
    }

    /** Send a request; its pending answer, or null when the pipe is gone. A call's answer is
     * for the sending thread to wait for ({@link #awaitCall}). */
    Pending send(byte kind, String payload) {
        Pending p = new Pending(kind);
        if (kind == ModuleProcess.CALL) {
            p.waiter = Thread.currentThread();
        }
        int id = ids.incrementAndGet();
        pending.put(id, p);
        if (kind == ModuleProcess.CALL) {
            calls.incrementAndGet();
        }
        byte[] body = payload.getBytes(StandardCharsets.UTF_8);
        try {
            synchronized (out) {
                out.writeInt(body.length + 5);
                out.writeByte(kind);
                out.writeInt(id);
                out.write(body);
                out.flush();
            }
        } catch (IOException e) {
            if (pending.remove(id) != null && kind == ModuleProcess.CALL) {
                calls.decrementAndGet();
            }
            return null;
        }
        return p;
    }

    void kill(String reason) {
        if (killedFor == null) {
            killedFor = reason;
        }
        process.destroyForcibly();
    }

    /** The reader thread: completes answers other than calls', queues the log lines written
     * outside a call. */
    void read() {
        try (DataInputStream in = new DataInputStream(
                new BufferedInputStream(process.getInputStream(), 1 << 16))) {
            while (true) {
                int length = in.readInt();
                byte kind = in.readByte();
                int id = in.readInt();
                byte[] body = new byte[length - 5];
                in.readFully(body);
                String text = new String(body, StandardCharsets.UTF_8);
                if (kind == ModuleProcess.ANSWER) {
                    answered(id, text);
                } else if (kind == ModuleProcess.LOG) {
                    logLine(text);
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process ended (or wrote something that is not a frame): see ended()
        } finally {
            listener.ended(this);
        }
    }

    /** A LOG frame's text: instance US level US message. */
    private void logLine(String text) {
        int a = text.indexOf(HookAnswer.UNIT_SEP);
        int b = a < 0 ? -1 : text.indexOf(HookAnswer.UNIT_SEP, a + 1);
        if (b < 0) {
            return;
        }
        LogLevel level;
        try {
            level = LogLevel.valueOf(text.substring(a + 1, b));
        } catch (IllegalArgumentException e) {
            level = LogLevel.INFO;
        }
        listener.line(text.substring(0, a), level, text.substring(b + 1));
    }

    /** The oldest unanswered call's age at {@code now}, or -1. */
    long oldestCall(long now) {
        long oldest = -1;
        for (Pending p : pending.values()) {
            if (p.kind == ModuleProcess.CALL && now - p.sent > oldest) {
                oldest = now - p.sent;
            }
        }
        return oldest;
    }

    static final class Pending {
        final byte kind;
        final long sent = System.nanoTime();
        final CompletableFuture<String> answer = new CompletableFuture<>();
        /** The thread waiting for a call's answer (null once it stopped waiting). */
        volatile Thread waiter;

        Pending(byte kind) {
            this.kind = kind;
        }
    }
}
