package de.sfhost.sip;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The SIP front's log lines ("WARNING\ttext"), queued for the host's logger (a Python thread
 * polls them), so that no decision waits for Python to write a line. Bounded: when the writer
 * falls behind, lines are counted and dropped, never waited for.
 */
public final class SipLog {
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>(10_000);
    private final AtomicLong dropped = new AtomicLong();

    public void warning(String message) {
        put("WARNING", message);
    }

    public void error(String message) {
        put("ERROR", message);
    }

    public void info(String message) {
        put("INFO", message);
    }

    private void put(String level, String message) {
        if (!lines.offer(level + "\t" + message)) {
            dropped.incrementAndGet();
        }
    }

    /** The next line within {@code millis}, or null. */
    public String poll(long millis) throws InterruptedException {
        return lines.poll(millis, TimeUnit.MILLISECONDS);
    }

    public int pending() {
        return lines.size();
    }

    /** Lines dropped because the queue was full. */
    public long dropped() {
        return dropped.get();
    }
}
