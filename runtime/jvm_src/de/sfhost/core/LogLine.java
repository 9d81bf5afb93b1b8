package de.sfhost.core;

import de.sfhost.module.api.LogLevel;

/** One line of a module's log on its way to the writer. */
public final class LogLine {
    public final String moduleId;
    public final LogLevel level;
    public final String message;

    LogLine(String moduleId, LogLevel level, String message) {
        this.moduleId = moduleId;
        this.level = level;
        this.message = message;
    }
}
