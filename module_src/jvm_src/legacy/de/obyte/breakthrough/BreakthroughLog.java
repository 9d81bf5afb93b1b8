package de.obyte.breakthrough;

import de.sfhost.module.api.ModuleLog;

/**
 * The module log adapter of the legacy build (PBX 7.0.0.2 and later), whose module log offers
 * only the older per-level methods.
 */
public final class BreakthroughLog {
    /** Which PBX log API this build calls. */
    public static final String API = "error/warn/info/debug/trace(String)";

    private BreakthroughLog() {
    }

    public static void error(ModuleLog log, String message) {
        if (log != null) {
            log.error(message);
        }
    }

    public static void warn(ModuleLog log, String message) {
        if (log != null) {
            log.warn(message);
        }
    }

    public static void info(ModuleLog log, String message) {
        if (log != null) {
            log.info(message);
        }
    }

    public static void debug(ModuleLog log, String message) {
        if (log != null) {
            log.debug(message);
        }
    }

    public static void trace(ModuleLog log, String message) {
        if (log != null) {
            log.trace(message);
        }
    }
}
