package de.sfhost.core;

/**
 * Runs a worker thread's whole life inside the host language. The routing core's worker
 * threads are Java-owned; when the embedding runtime (the Python shim) sets a ThreadHost, each
 * worker calls {@link #run} once when it starts, and the host calls {@code body.run()} right
 * back. For CPython this means the thread gets its Python thread state once and keeps it while
 * the body runs (the body is Java, so the GIL is released meanwhile); later calls from that
 * thread into Python then only cross the GIL instead of creating and destroying a thread state
 * each time.
 */
public interface ThreadHost {
    /** Call {@code body.run()} on the calling thread and return when it returns. */
    void run(Runnable body);
}
