package de.sfhost.module.runtime;

import de.sfhost.module.api.LogLevel;
import de.sfhost.module.api.ModuleLog;
import org.apache.commons.logging.Log;

/** commons-logging's Log onto a module's log (FATAL counts as ERROR). */
final class ModuleLogAdapter implements Log {
    private final ModuleLog log;

    ModuleLogAdapter(ModuleLog log) {
        this.log = log;
    }

    private void write(LogLevel level, Object message, Throwable t) {
        if (log.isEnabled(level)) {
            log.log(level, t == null ? String.valueOf(message) : message + ": " + t);
        }
    }

    @Override public void trace(Object m) { write(LogLevel.TRACE, m, null); }
    @Override public void trace(Object m, Throwable t) { write(LogLevel.TRACE, m, t); }
    @Override public void debug(Object m) { write(LogLevel.DEBUG, m, null); }
    @Override public void debug(Object m, Throwable t) { write(LogLevel.DEBUG, m, t); }
    @Override public void info(Object m) { write(LogLevel.INFO, m, null); }
    @Override public void info(Object m, Throwable t) { write(LogLevel.INFO, m, t); }
    @Override public void warn(Object m) { write(LogLevel.WARN, m, null); }
    @Override public void warn(Object m, Throwable t) { write(LogLevel.WARN, m, t); }
    @Override public void error(Object m) { write(LogLevel.ERROR, m, null); }
    @Override public void error(Object m, Throwable t) { write(LogLevel.ERROR, m, t); }
    @Override public void fatal(Object m) { write(LogLevel.ERROR, m, null); }
    @Override public void fatal(Object m, Throwable t) { write(LogLevel.ERROR, m, t); }
    @Override public boolean isTraceEnabled() { return log.isEnabled(LogLevel.TRACE); }
    @Override public boolean isDebugEnabled() { return log.isEnabled(LogLevel.DEBUG); }
    @Override public boolean isInfoEnabled() { return log.isEnabled(LogLevel.INFO); }
    @Override public boolean isWarnEnabled() { return log.isEnabled(LogLevel.WARN); }
    @Override public boolean isErrorEnabled() { return log.isEnabled(LogLevel.ERROR); }
    @Override public boolean isFatalEnabled() { return log.isEnabled(LogLevel.ERROR); }
}
