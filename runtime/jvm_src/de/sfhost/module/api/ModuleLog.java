package de.sfhost.module.api;

/**
 * The log of one module instance, as the host hands it to the module.
 *
 * <p>{@link #log(LogLevel, String)} is the current API; the per-level methods are the older API
 * that legacy module builds call. They delegate to {@code log}, so a host implements two methods.
 * Implementations must not block the call path: they hand lines to a writer.
 */
public interface ModuleLog {
    void log(LogLevel level, String message);

    boolean isEnabled(LogLevel level);

    default void error(String m) {
        log(LogLevel.ERROR, m);
    }

    default void warn(String m) {
        log(LogLevel.WARN, m);
    }

    default void info(String m) {
        log(LogLevel.INFO, m);
    }

    default void debug(String m) {
        log(LogLevel.DEBUG, m);
    }

    default void trace(String m) {
        log(LogLevel.TRACE, m);
    }
}
