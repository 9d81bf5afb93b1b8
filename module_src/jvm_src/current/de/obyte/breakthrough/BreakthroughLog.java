package de.obyte.breakthrough;

import de.sfhost.module.api.LogLevel;
import de.sfhost.module.api.ModuleLog;

/** The module log adapter of the current build (PBX 8.1.0.4 and later): the leveled log API. */
public final class BreakthroughLog {
    /** Which PBX log API this build calls. */
    public static final String API = "log(LogLevel, String)";

    private BreakthroughLog() {
    }

    public static void error(ModuleLog log, String message) {
        write(log, LogLevel.ERROR, message);
    }

    public static void warn(ModuleLog log, String message) {
        write(log, LogLevel.WARN, message);
    }

    public static void info(ModuleLog log, String message) {
        write(log, LogLevel.INFO, message);
    }

    public static void debug(ModuleLog log, String message) {
        write(log, LogLevel.DEBUG, message);
    }

    public static void trace(ModuleLog log, String message) {
        write(log, LogLevel.TRACE, message);
    }

    private static void write(ModuleLog log, LogLevel level, String message) {
        if (log != null && log.isEnabled(level)) {
            log.log(level, message);
        }
    }
}
