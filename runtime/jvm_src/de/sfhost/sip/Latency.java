package de.sfhost.sip;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * How long the decider took per INVITE, as a histogram (lock-free, a few nanoseconds per
 * record): 10 us steps up to 1 ms, 1 ms steps up to 100 ms, 10 ms steps up to 3 s. For the
 * benchmark's view of the decision time under load, beside what sipp sees.
 */
public final class Latency {
    private static final int BUCKETS = 100 + 99 + 290;
    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);

    void record(long nanos) {
        long us = Math.max(0, nanos / 1000);
        int i;
        if (us < 1_000) {
            i = (int) (us / 10);
        } else if (us < 100_000) {
            i = 100 + (int) ((us - 1_000) / 1_000);
        } else {
            i = (int) Math.min(BUCKETS - 1, 199 + (us - 100_000) / 10_000);
        }
        counts.incrementAndGet(i);
    }

    private static long lowerBound(int i) {
        if (i < 100) {
            return i * 10L;
        }
        if (i < 199) {
            return 1_000L + (i - 100) * 1_000L;
        }
        return 100_000L + (i - 199) * 10_000L;
    }

    public long count() {
        long n = 0;
        for (int i = 0; i < BUCKETS; i++) {
            n += counts.get(i);
        }
        return n;
    }

    /** The {@code q} quantile (0..1) in microseconds (a bucket's lower bound); -1 when empty. */
    public long quantileMicros(double q) {
        long n = count();
        if (n == 0) {
            return -1;
        }
        long rank = (long) Math.ceil(q * n);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += counts.get(i);
            if (seen >= rank && seen > 0) {
                return lowerBound(i);
            }
        }
        return lowerBound(BUCKETS - 1);
    }

    public void reset() {
        for (int i = 0; i < BUCKETS; i++) {
            counts.set(i, 0);
        }
    }
}
