package de.sfhost.core;

import de.sfhost.module.api.LogLevel;

/** One line of a module's log on its way to the writer. */
public final class LogLine {
    public final String moduleId;
    /** The instance whose log the line is for; null: a line about the module as a whole. */
    public final String instance;
    public final LogLevel level;
    public final String message;

    LogLine(String moduleId, String instance, LogLevel level, String message) {
        this.moduleId = moduleId;
        this.instance = instance;
        this.level = level;
        this.message = message;
    }
}
