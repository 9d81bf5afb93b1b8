package de.sfhost.core;

/**
 * The monotonic clock the licence gates read: {@code System.nanoTime()}, which no step of the
 * wall clock moves. Tests in which days pass while a host runs move it forward with
 * {@link #advanceForTests} (the machine's clock cannot be moved by a test), as they move the
 * host's Python monotonic clock.
 */
public final class GateClock {
    private static volatile long shift;

    private GateClock() {
    }

    public static long nanoTime() {
        return System.nanoTime() + shift;
    }

    /** Let {@code seconds} pass for the gates (tests only). */
    public static synchronized void advanceForTests(double seconds) {
        shift += (long) (seconds * 1e9);
    }
}
