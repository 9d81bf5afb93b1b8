package de.sfhost.sip;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The host's end of Kamailio's call events (evapi): one line per event
 * ({@code kind=start&callid=..&users=..} when a call is answered, {@code kind=end&callid=..}
 * when it ends), read on a daemon thread and handed to the {@link Decider}. Connects again
 * after Kamailio restarted.
 */
public final class CallEvents {
    private final int port;
    private final Decider decider;
    private final Thread thread;
    private volatile boolean stopping;
    private volatile Socket socket;
    private volatile CountDownLatch connected = new CountDownLatch(1);

    public CallEvents(int port, Decider decider) {
        this.port = port;
        this.decider = decider;
        this.thread = new Thread(this::run, "sip-events");
        this.thread.setDaemon(true);
    }

    /** Start reading; wait up to {@code waitMillis} for the first connection. */
    public boolean start(long waitMillis) throws InterruptedException {
        thread.start();
        return connected.await(waitMillis, TimeUnit.MILLISECONDS);
    }

    public boolean isConnected() {
        return connected.getCount() == 0;
    }

    public void stop() throws InterruptedException {
        stopping = true;
        Socket s = socket;
        if (s != null) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        thread.join(2000);
    }

    private void run() {
        while (!stopping) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
            } catch (IOException e) {
                close(s);
                sleep(100);
                continue;
            }
            socket = s;
            connected.countDown();
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while (!stopping && (line = in.readLine()) != null) {
                    line = line.strip();
                    if (line.isEmpty()) {
                        continue;
                    }
                    try {
                        decider.event(Query.parse(line));
                    } catch (RuntimeException e) { // one bad line must not end the listener
                        decider.log().error("sip: call event '" + line + "' not understood ("
                                + e + ")");
                    }
                }
            } catch (IOException e) {
                // Kamailio went away: connect again
            } finally {
                close(s);
                connected = new CountDownLatch(1);
            }
        }
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
