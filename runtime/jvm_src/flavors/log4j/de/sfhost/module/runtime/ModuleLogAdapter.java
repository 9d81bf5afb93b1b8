package de.sfhost.module.runtime;

import de.sfhost.module.api.LogLevel;
import de.sfhost.module.api.ModuleLog;
import org.apache.logging.log4j.Marker;
import org.apache.logging.log4j.message.Message;
import org.apache.logging.log4j.spi.AbstractLogger;

/**
 * log4j2's Logger onto a module's log: every isEnabled overload asks the module log's level,
 * and each message goes to the module log (FATAL counts as ERROR, OFF and ALL as nothing).
 */
final class ModuleLogAdapter extends AbstractLogger {
    private static final long serialVersionUID = 1L;
    private final transient ModuleLog log;

    ModuleLogAdapter(String name, ModuleLog log) {
        super(name);
        this.log = log;
    }

    private static LogLevel ours(org.apache.logging.log4j.Level level) {
        switch (level.getStandardLevel()) {
            case FATAL:
            case ERROR:
                return LogLevel.ERROR;
            case WARN:
                return LogLevel.WARN;
            case INFO:
                return LogLevel.INFO;
            case DEBUG:
                return LogLevel.DEBUG;
            case TRACE:
                return LogLevel.TRACE;
            default:
                return null;
        }
    }

    private boolean enabled(org.apache.logging.log4j.Level level) {
        LogLevel l = ours(level);
        return l != null && log.isEnabled(l);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, Message message, Throwable t) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, CharSequence message, Throwable t) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, Object message, Throwable t) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Throwable t) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object... params) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2, Object p3) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2, Object p3, Object p4) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2, Object p3, Object p4, Object p5) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2, Object p3, Object p4, Object p5, Object p6) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2, Object p3, Object p4, Object p5, Object p6, Object p7) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2, Object p3, Object p4, Object p5, Object p6, Object p7, Object p8) {
        return enabled(level);
    }

    @Override
    public boolean isEnabled(org.apache.logging.log4j.Level level, Marker marker, String message, Object p0, Object p1, Object p2, Object p3, Object p4, Object p5, Object p6, Object p7, Object p8, Object p9) {
        return enabled(level);
    }

    @Override
    public void logMessage(String fqcn, org.apache.logging.log4j.Level level, Marker marker,
            Message message, Throwable t) {
        LogLevel l = ours(level);
        if (l != null) {
            String text = message == null ? "null" : message.getFormattedMessage();
            log.log(l, t == null ? text : text + ": " + t);
        }
    }

    @Override
    public org.apache.logging.log4j.Level getLevel() {
        for (LogLevel l : new LogLevel[] {LogLevel.TRACE, LogLevel.DEBUG, LogLevel.INFO,
                LogLevel.WARN}) {
            if (log.isEnabled(l)) {
                return org.apache.logging.log4j.Level.valueOf(l.name());
            }
        }
        return org.apache.logging.log4j.Level.ERROR;
    }
}
