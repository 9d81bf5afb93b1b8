package de.sfhost.module.api;

/** The five levels of a module's instance log, most severe first. */
public enum LogLevel {
    ERROR, WARN, INFO, DEBUG, TRACE;

    /** True when a line of level {@code line} passes a log set to this level. */
    public boolean admits(LogLevel line) {
        return line.ordinal() <= this.ordinal();
    }
}
