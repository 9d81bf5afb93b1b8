package de.sfhost.core;

import de.sfhost.module.api.CallContext;
import de.sfhost.module.api.LogLevel;
import de.sfhost.module.api.ModuleLog;
import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One installed build's Python code in a process of its own (runtime/modules/module_process.py),
 * owned by the host's Java side, so that no call ever needs the host's Python interpreter.
 *
 * <p>Requests go as frames over the process's stdin (length, kind byte, id, UTF-8 payload; see
 * runtime/modules/process_protocol.py); a reader thread completes them from its stdout, but for
 * calls, whose answers come on a Unix socket read by the waiting threads ({@link CallChannel}).
 * A call ({@link #answer}) waits at most until the call's hook deadline; calls still waiting in
 * the process beyond {@link #IN_FLIGHT_CAP} are answered "busy" at once. A process that has not
 * answered a call for the stuck limit, or that died, is killed and started again (import,
 * start, the last instances), with a line in the module log and in {@link #problems()};
 * meanwhile calls are answered at once with the reason. Every answer is the one-string
 * encoding {@link HookAnswer} reads; a failure starts with "!".
 *
 * <p>Processes are started from one long-lived thread, since the child asks the kernel to end
 * it when the thread that started it ends (PR_SET_PDEATHSIG); a shutdown hook kills the
 * children of a JVM that exits.
 */
public final class ModuleProcess {
    static final byte IMPORT = 'M';
    static final byte START = 'S';
    static final byte CALL = 'C';
    static final byte INSTANCES = 'I';
    static final byte ANSWER = 'A';
    static final byte LOG = 'L';
    /** Calls waiting in one process beyond this many are answered "busy" at once. */
    public static final int IN_FLIGHT_CAP = 64;
    /** A call answer is given up this long before the hook's deadline (the core's watchdog
     * would otherwise replace the waiting worker). */
    private static final long MARGIN_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    /** A process that needed restarting again within this time restarts after a pause. */
    private static final long CALM_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long MAX_PAUSE_MILLIS = 60_000;

    private static final Set<ModuleProcess> LIVE = ConcurrentHashMap.newKeySet();

    static {
        // The host makes the first ModuleProcess, not a module: threads made here keep no
        // module's class loader alive (see ModulePipe.SPAWNER).
        ModulePipe.prepare();
        Thread watch = new Thread(ModuleProcess::watch, "sfhost-module-watch");
        watch.setDaemon(true);
        watch.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (ModuleProcess p : LIVE) {
                p.close();
            }
        }, "sfhost-module-reaper"));
    }

    private final String moduleId;
    private final List<String> command;
    private final Map<String, String> environment;
    private final File directory;
    private final File errorFile;
    private final ModuleLog log;
    private final ModuleLogQueue lines;
    private final long importLimitNanos;
    private final long startLimitNanos;
    private final long stuckLimitNanos;
    private volatile long callWaitNanos = RoutingCore.DEFAULT_BUDGET_NANOS;

    private final Object startLock = new Object();
    private final Object adminLock = new Object();
    private volatile ModulePipe current;
    private volatile boolean ready;
    private volatile boolean everReady;
    private volatile boolean closed;
    private volatile boolean hasHook;
    private volatile boolean wantsInstances;
    private volatile String notRunning = "the module's Python code has not started";
    private volatile String lastInstances;
    private final AtomicInteger restarts = new AtomicInteger();
    private volatile String lastTrouble;
    // Guarded by this: the restart in progress and its pacing.
    private boolean restarting;
    private long lastRestartAt;
    private int quickRestarts;

    /**
     * {@code command} starts the module's process (its working folder {@code directory}, extra
     * {@code environment}); its stderr is appended to {@code errorFile} (null: dropped). Lines
     * about the process go to {@code log}, the module's own instance log lines to
     * {@code lines}. The limits are seconds.
     */
    public ModuleProcess(String moduleId, String[] command, Map<String, String> environment,
            String directory, String errorFile, ModuleLog log, ModuleLogQueue lines,
            double importLimit, double startLimit, double stuckLimit) {
        this.moduleId = moduleId;
        this.command = new ArrayList<>(Arrays.asList(command));
        this.environment = environment;
        this.directory = directory == null ? null : new File(directory);
        this.errorFile = errorFile == null ? null : new File(errorFile);
        this.log = log;
        this.lines = lines;
        this.importLimitNanos = seconds(importLimit);
        this.startLimitNanos = seconds(startLimit);
        this.stuckLimitNanos = seconds(stuckLimit);
        LIVE.add(this);
    }

    private static long seconds(double s) {
        return (long) (s * 1e9);
    }

    public String getModuleId() {
        return moduleId;
    }

    /** How long a call waits for its answer when the context carries no deadline. */
    public void setCallWaitMillis(double millis) {
        callWaitNanos = (long) (millis * 1e6);
    }

    /** Whether the module's start registered a call hook (stays true across restarts). */
    public boolean hasCallHook() {
        return hasHook;
    }

    /** Whether the registered hook takes instances (set_instances). */
    public boolean wantsInstances() {
        return wantsInstances;
    }

    public boolean isReady() {
        return ready;
    }

    /** The process id of the running process, or -1. */
    public long pid() {
        ModulePipe g = current;
        return g == null ? -1 : g.process.pid();
    }

    /** How many times the process was restarted. */
    public int restartCount() {
        return restarts.get();
    }

    /** What is wrong with the process now or went wrong with it, in words (empty: nothing). */
    public String[] problems() {
        List<String> out = new ArrayList<>();
        int n = restarts.get();
        String trouble = lastTrouble;
        if (trouble != null) {
            out.add("its Python process was stopped " + n + (n == 1 ? " time" : " times")
                    + " and started again; the last time: " + trouble);
        }
        if (everReady && !ready && !closed) {
            out.add(notRunning);
        }
        return out.toArray(new String[0]);
    }

    // ---- start, instances --------------------------------------------------------------

    /**
     * Start the process, import the build's package and call its start(api); once (later
     * calls return at once when it runs). Throws with the reason when it fails or does not
     * finish within the import and start limits (the process is then killed).
     */
    public void start() throws HookFailure {
        synchronized (startLock) {
            if (ready || closed) {
                return;
            }
            try {
                markReady(bringUp());
            } catch (HookFailure e) {
                notRunning = "the module's Python code is not running: " + e.getMessage();
                throw e;
            }
        }
    }

    /** Calls go to {@code g} from now on, unless it ended meanwhile (then this throws). */
    private void markReady(ModulePipe g) throws HookFailure {
        synchronized (this) {
            if (closed || current != g) {
                throw new HookFailure("its Python process ended while it was started", null);
            }
            everReady = true;
            ready = true;
        }
    }

    /** Launch, import, start: the process that answers calls once {@link #ready} is set. */
    private ModulePipe bringUp() throws HookFailure {
        ModulePipe g = launch();
        String imported = admin(g, IMPORT, "", importLimitNanos,
                "importing the module's Python code");
        if (imported.startsWith("!")) {
            g.kill("its import failed");
            throw new HookFailure(imported.substring(1), null);
        }
        try {
            g.acceptCalls();
        } catch (HookFailure e) {
            g.kill(e.getMessage());
            throw e;
        }
        String started = admin(g, START, "", startLimitNanos, "the module's start(api)");
        if (started.startsWith("!")) {
            g.kill("its start failed");
            throw new HookFailure(started.substring(1), null);
        }
        List<String> words = Arrays.asList(started.split(" "));
        hasHook = words.contains("hook");
        wantsInstances = words.contains("set_instances");
        return g;
    }

    /**
     * Hand the hook its instances (the JSON of runtime/modules/module_process.py) and wait up
     * to {@code limitMillis} for the module's answer (JSON). Not running: the instances are
     * kept for when it runs again, and this throws; past the limit the process is killed
     * (and started again with the instances it had).
     */
    public String setInstances(String payload, double limitMillis) throws HookFailure {
        synchronized (adminLock) {
            ModulePipe g = current;
            if (!ready || g == null) {
                lastInstances = payload;
                throw new HookFailure(notRunning + "; it gets the instances when it runs again",
                        null);
            }
            String answer = admin(g, INSTANCES, payload, (long) (limitMillis * 1e6),
                    "the module's set_instances");
            lastInstances = payload;
            return answer;
        }
    }

    /** A request other than a call: its answer, or HookFailure (the process killed) when it
     * does not come within {@code limit} nanoseconds or the process ends. */
    private String admin(ModulePipe g, byte kind, String payload, long limit, String what)
            throws HookFailure {
        ModulePipe.Pending p = g.send(kind, payload);
        if (p == null) {
            throw new HookFailure(what + ": its Python process is not running", null);
        }
        try {
            return p.answer.get(limit, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            String reason = what + " did not finish within " + formatSeconds(limit);
            g.kill(reason);
            throw new HookFailure(reason, null);
        } catch (ExecutionException e) {
            throw new HookFailure(what + ": " + e.getCause().getMessage(), null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HookFailure(what + ": interrupted", null);
        }
    }

    // ---- calls ---------------------------------------------------------------------------

    /**
     * The hook's one-string answer for this call, within the call's hook deadline (a
     * {@link CallView} of the core carries it; else the call wait). Never blocks longer,
     * never throws: a failure is an answer starting with "!".
     */
    public String answer(CallContext ctx) {
        ModulePipe g = current;
        if (!ready || g == null) {
            return "!" + notRunning;
        }
        int waiting = g.calls.get();
        if (waiting >= IN_FLIGHT_CAP) {
            return "!the module's Python process is busy: " + waiting
                    + " calls are waiting for it";
        }
        long now = System.nanoTime();
        long deadline = ctx instanceof CallView ? ((CallView) ctx).deadline : 0L;
        long wait = deadline != 0L ? deadline - now - MARGIN_NANOS : callWaitNanos;
        String caller = ctx.getCallerNumber();
        String called = ctx.getCalledNumber();
        ModulePipe.Pending p = g.send(CALL, caller == null ? called : called + HookAnswer.UNIT_SEP + caller);
        if (p == null) {
            return "!" + notRunning;
        }
        try {
            return g.awaitCall(p, Math.max(wait, 0L));
        } catch (TimeoutException e) {
            long budget = deadline != 0L ? ((CallView) ctx).budget : callWaitNanos;
            return "!the module's Python code did not answer within "
                    + formatMillis(budget);
        } catch (ExecutionException e) {
            return "!" + e.getCause().getMessage();
        }
    }

    // ---- the process -------------------------------------------------------------------

    private ModulePipe launch() throws HookFailure {
        if (closed) {
            throw new HookFailure("the module's Python process was closed", null);
        }
        ProcessBuilder builder = new ProcessBuilder(command);
        if (directory != null) {
            builder.directory(directory);
        }
        builder.environment().putAll(environment);
        builder.environment().put("SFM_MODULE_PARENT",
                String.valueOf(ProcessHandle.current().pid()));
        ModulePipe g = ModulePipe.spawn(builder, moduleId, errorFile, new ModulePipe.Listener() {
            @Override
            public void line(String instance, LogLevel level, String message) {
                if (lines != null) {
                    lines.instanceLine(moduleId, instance, level, message);
                }
            }

            @Override
            public void ended(ModulePipe pipe) {
                ModuleProcess.this.ended(pipe);
            }
        });
        synchronized (this) {
            ModulePipe before = current;
            current = g;
            if (before != null) {
                before.kill("replaced");
            }
        }
        g.startReading();
        if (closed) {
            g.kill("closed");
        }
        return g;
    }

    /** The reader of {@code g} saw its process end: fail what waits, restart if it ran. */
    private void ended(ModulePipe g) {
        String reason = g.killedFor;
        if (reason == null) {
            int code = -1;
            try {
                if (g.process.waitFor(1, TimeUnit.SECONDS)) {
                    code = g.process.exitValue();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            reason = "its Python process ended (exit code " + code + ")";
        }
        g.failAll(reason);
        boolean wasReady;
        synchronized (this) {
            if (g != current) {
                return;
            }
            current = null;
            wasReady = ready;
            ready = false;
        }
        if (!wasReady || closed) {
            return; // a start in progress reports its own failure
        }
        lastTrouble = reason;
        restarts.incrementAndGet();
        if (log != null) {
            log.error("the module's Python process stopped: " + reason
                    + "; calls route as if the module were absent until it runs again");
        }
        restartLater(reason);
    }

    private void restartLater(String reason) {
        long pause;
        synchronized (this) {
            if (restarting || closed) {
                return;
            }
            restarting = true;
            long now = System.nanoTime();
            if (now - lastRestartAt > CALM_NANOS) {
                quickRestarts = 0;
            }
            pause = quickRestarts == 0 ? 0
                    : Math.min(MAX_PAUSE_MILLIS, 500L << Math.min(quickRestarts, 10));
            quickRestarts++;
            lastRestartAt = now;
        }
        notRunning = "the module's Python process is being started again (" + reason + ")";
        final long pauseMillis = pause;
        Thread t = new Thread(() -> restart(pauseMillis), "sfhost-module-restart-" + moduleId);
        t.setDaemon(true);
        t.start();
    }

    private void restart(long pauseMillis) {
        if (pauseMillis > 0) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(pauseMillis));
        }
        String failure = null;
        try {
            synchronized (startLock) {
                ModulePipe g = bringUp();
                synchronized (adminLock) {
                    String instances = lastInstances;
                    if (wantsInstances && instances != null) {
                        admin(g, INSTANCES, instances, startLimitNanos,
                                "the module's set_instances");
                    }
                    markReady(g);
                }
            }
            if (log != null) {
                log.info("the module's Python process runs again");
            }
        } catch (HookFailure e) {
            failure = e.getMessage();
        } catch (RuntimeException e) {
            failure = e.toString();
        } finally {
            synchronized (this) {
                restarting = false;
            }
        }
        if (failure != null && !closed) {
            lastTrouble = "it could not be started again: " + failure;
            if (log != null) {
                log.error("the module's Python process could not be started again: " + failure);
            }
            restartLater(failure);
        }
    }

    /** Kill the process now (for tests of a dying child; it is started again as on a crash). */
    public void kill() {
        ModulePipe g = current;
        if (g != null) {
            g.process.destroyForcibly();
        }
    }

    /** Kill the process for good; calls are answered at once from now on. */
    public void close() {
        closed = true;
        ready = false;
        notRunning = "the module's Python process was closed";
        LIVE.remove(this);
        ModulePipe g = current;
        if (g != null) {
            g.kill("closed");
        }
    }

    /** The watch thread: kills a process whose oldest unanswered call is past the limit. */
    private static void watch() {
        while (true) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
            long now = System.nanoTime();
            for (ModuleProcess p : LIVE) {
                ModulePipe g = p.current;
                if (g != null && p.ready && g.oldestCall(now) > p.stuckLimitNanos) {
                    g.kill("a call was not answered for " + formatSeconds(p.stuckLimitNanos));
                }
            }
        }
    }

    static String formatMillis(long nanos) {
        double ms = nanos / 1_000_000.0;
        return (ms == Math.rint(ms) ? String.valueOf((long) ms) : String.valueOf(ms)) + " ms";
    }

    static String formatSeconds(long nanos) {
        double s = nanos / 1e9;
        return (s == Math.rint(s) ? String.valueOf((long) s) : String.valueOf(s)) + " s";
    }
}
