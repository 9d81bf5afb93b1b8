package de.sfhost.core;

import de.sfhost.module.api.LogLevel;
import de.sfhost.module.api.ModuleLog;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Module logs that only queue their lines: the call path never waits for a writer. A writer
 * (the routing host's log thread) takes the lines with {@link #poll(long)}.
 */
public final class ModuleLogQueue {
    private final LinkedBlockingQueue<LogLine> lines = new LinkedBlockingQueue<>();

    /** A log for {@code moduleId} that passes lines up to {@code threshold}. */
    public ModuleLog forModule(final String moduleId, final LogLevel threshold) {
        return new ModuleLog() {
            @Override
            public void log(LogLevel level, String message) {
                if (threshold.admits(level)) {
                    lines.add(new LogLine(moduleId, null, level, message));
                }
            }

            @Override
            public boolean isEnabled(LogLevel level) {
                return threshold.admits(level);
            }
        };
    }

    /** A line a module's own code wrote for one of its instances (no threshold here: the
     * instance's log applies its level). */
    public void instanceLine(String moduleId, String instance, LogLevel level, String message) {
        lines.add(new LogLine(moduleId, instance, level, message));
    }

    /** The next line, or null after {@code millis} without one. */
    public LogLine poll(long millis) throws InterruptedException {
        return lines.poll(millis, TimeUnit.MILLISECONDS);
    }

    public int pending() {
        return lines.size();
    }
}
