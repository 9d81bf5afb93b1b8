package de.sfhost.core;

import de.sfhost.module.api.HookRegistry;
import de.sfhost.module.api.KernelHook;
import de.sfhost.module.api.ModuleLog;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The routing core's hook registry: one hook per module at stage
 * PostTargetDeterminationIncoming (registering again replaces it), and the modules the host
 * switched off. Calls take a {@link #snapshot()} when they start, so a change affects later
 * calls only and nothing on the call path locks.
 */
final class ModuleHooks {
    static final String STAGE = HookRegistry.STAGE_POST_TARGET_DETERMINATION_INCOMING;

    static final class Registration {
        final String moduleId;
        final KernelHook hook;
        final ModuleLog log;
        /** Calls the watchdog gave up on whose hook has not returned yet. */
        final AtomicInteger stuck = new AtomicInteger();

        Registration(String moduleId, KernelHook hook, ModuleLog log) {
            this.moduleId = moduleId;
            this.hook = hook;
            this.log = log;
        }
    }

    private volatile Registration[] registrations = new Registration[0];
    /** module id -> reason, for modules the host switched off (e.g. trial expired). */
    private final Map<String, String> disabled = new ConcurrentHashMap<>();
    /** module id -> {@link GateClock} reading from which on its trial no longer allows it. */
    private final Map<String, Long> allowedUntil = new ConcurrentHashMap<>();

    /** The registrations as of now, in registration order. */
    Registration[] snapshot() {
        return registrations;
    }

    /** Switched off, or its trial has ended (one comparison with the monotonic clock). */
    boolean isDisabled(String moduleId) {
        if (disabled.containsKey(moduleId)) {
            return true;
        }
        Long until = allowedUntil.get(moduleId);
        return until != null && GateClock.nanoTime() - until >= 0;
    }

    /**
     * The licence gate: the module may act for {@code seconds} more from now (a trial's time
     * left), or for good when it is infinite (licensed, or no licensing). Set when the host
     * starts and when the licence changes, never by a timer; a step of the wall clock moves
     * nothing here (docs/ARCHITECTURE.md, "Licence gate").
     */
    void setAllowedFor(String moduleId, double seconds) {
        if (Double.isInfinite(seconds) && seconds > 0) {
            allowedUntil.remove(moduleId);
            return;
        }
        long nanos = seconds <= 0 ? 0L : (long) Math.min(seconds * 1e9, 1e18);
        allowedUntil.put(moduleId, GateClock.nanoTime() + nanos);
    }

    void register(String moduleId, String stage, KernelHook hook, ModuleLog log) {
        if (!STAGE.equals(stage)) {
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

    void unregister(String moduleId, String stage) {
        if (!STAGE.equals(stage)) {
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
    void setModuleEnabled(String moduleId, boolean enabled, String reason) {
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

    boolean isModuleEnabled(String moduleId) {
        return !disabled.containsKey(moduleId);
    }

    ModuleLog logOf(String moduleId) {
        for (Registration r : registrations) {
            if (r.moduleId.equals(moduleId)) {
                return r.log;
            }
        }
        return null;
    }
}
