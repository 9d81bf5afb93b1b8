package de.sfhost.sip;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * The decision service Kamailio asks per INVITE: {@code GET /decide?caller=..&called=..}
 * answers the {@link Decider}'s line, {@code GET /event?kind=..&callid=..} records a call event,
 * {@code GET /health} answers "ok"; anything else 404, a request it cannot read 400.
 *
 * <p>HTTP/1.1 on 127.0.0.1 with kept-alive connections, a thread per connection: each Kamailio
 * worker keeps one connection and asks one query at a time, so a thread that reads the request,
 * decides (routing the call itself, {@link de.sfhost.core.RoutingCore#routeHere}: no hand-off
 * to a worker and back, two thread wake-ups per call fewer on a busy machine) and writes the
 * answer in one write is all it takes. When a module's hook overruns its budget, the thread
 * that carries the call on writes the answer and serves the connection on; the stuck thread
 * leaves it once the hook returns. Measured against the JDK's
 * {@code com.sun.net.httpserver} (a selector thread handing each request to a pool): that cost
 * about 0.3 ms of CPU per query in its dispatcher and pool threads, on a machine with two
 * cores that also run Kamailio and the callers; this costs a read and a write.
 */
public final class DecisionServer {
    /** More connections than Kamailio has workers would mean a leak: refuse them. */
    private static final int MAX_CONNECTIONS = 256;
    private static final int MAX_HEAD = 8192;

    private final Decider decider;
    private final ServerSocket listener;
    private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
    /** Threads for the connections, kept a while when one closes (a client that does not
     * keep its connection gets a waiting thread instead of a new one). */
    private final ExecutorService pool;
    private volatile boolean stopping;
    private Thread acceptor;

    /** Bind 127.0.0.1:{@code port} (0: a free port); {@link #start} begins answering. */
    public DecisionServer(Decider decider, int port) throws IOException {
        this(decider, port, null);
    }

    /**
     * As above; each thread that serves connections first runs {@code threadSetup} on itself
     * (may be null), e.g. to raise its scheduling priority. What it throws is ignored: the
     * thread then serves as it is.
     */
    public DecisionServer(Decider decider, int port, Runnable threadSetup) throws IOException {
        this.decider = decider;
        // Through a channel, as the JDK's own server does: its SO_REUSEADDR lets a new server
        // bind the port again while connections of the stopped one are still closing.
        this.listener = ServerSocketChannel.open().socket();
        listener.setReuseAddress(true);
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newCachedThreadPool(r -> {
            Runnable body = threadSetup == null ? r : () -> {
                try {
                    threadSetup.run();
                } catch (RuntimeException e) {
                    // the setup reports its own failure; the thread serves at its priority
                }
                r.run();
            };
            Thread t = new Thread(body, "sip-decision-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public int getPort() {
        return listener.getLocalPort();
    }

    /** Start accepting connections (daemon threads: they never hold the process's exit up). */
    public synchronized void start() {
        acceptor = new Thread(this::accept, "sip-decision-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /**
     * Stop answering and close every connection (Kamailio then rings plainly); returns once
     * the port is free (a channel's socket is closed for good when its blocked accept ends).
     */
    public synchronized void stop() throws InterruptedException {
        stopping = true;
        close(listener);
        if (acceptor != null) {
            acceptor.join(2000);
        }
        for (Socket s : connections) {
            close(s);
        }
        pool.shutdown();
    }

    private void accept() {
        while (!stopping) {
            Socket s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                if (stopping) {
                    return;
                }
                continue;
            }
            if (connections.size() >= MAX_CONNECTIONS) {
                close(s);
                continue;
            }
            connections.add(s);
            if (stopping) {
                close(s);
                return;
            }
            try {
                pool.execute(() -> serve(s));
            } catch (RuntimeException e) { // stopped meanwhile
                connections.remove(s);
                close(s);
            }
        }
    }

    /** A kept-alive connection and its streams, which outlive a thread that hands it on. */
    private static final class Connection {
        final Socket socket;
        final InputStream in;
        final OutputStream out;
        final byte[] head = new byte[MAX_HEAD];

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            socket.setTcpNoDelay(true);
            this.in = new BufferedInputStream(socket.getInputStream(), 4096);
            this.out = socket.getOutputStream();
        }
    }

    private void serve(Socket s) {
        Connection c;
        try {
            c = new Connection(s);
        } catch (IOException e) {
            connections.remove(s);
            close(s);
            return;
        }
        serve(c);
    }

    /**
     * Answer the connection's requests on this thread until it closes, or until a decision's
     * answer came from another thread (a module's hook overran its budget here): that thread
     * then serves the connection on, and this one leaves it open once the hook returned.
     */
    private void serve(Connection c) {
        boolean handedOn = false;
        try {
            while (!stopping) {
                int n = readHead(c.in, c.head);
                if (n < 0) {
                    return; // the peer closed the connection
                }
                Request r = Request.parse(new String(c.head, 0, n, StandardCharsets.ISO_8859_1));
                if (r == null) {
                    c.out.write(answer(400, "Bad Request", ""));
                    return;
                }
                if (r.contentLength > 0 && c.in.skip(r.contentLength) < r.contentLength) {
                    return;
                }
                if (r.path.equals("/decide")) {
                    Decision d = new Decision(c, r.keepAlive);
                    Map<String, String> query = Query.parse(r.query);
                    decider.decide(query.getOrDefault("caller", ""),
                            query.getOrDefault("called", ""), d::reply);
                    if (!d.answeredHere()) {
                        handedOn = true;
                        return;
                    }
                } else {
                    c.out.write(respond(r));
                }
                if (!r.keepAlive) {
                    return;
                }
            }
        } catch (IOException e) {
            // the connection broke: Kamailio asks again on a new one
        } finally {
            if (!handedOn) {
                connections.remove(c.socket);
                close(c.socket);
            }
        }
    }

    /** One {@code /decide} request: its answer, written by whichever thread decided it. */
    private final class Decision {
        private final Connection connection;
        private final boolean keepAlive;
        private final Thread asked = Thread.currentThread();
        private volatile Thread answeredBy;

        Decision(Connection connection, boolean keepAlive) {
            this.connection = connection;
            this.keepAlive = keepAlive;
        }

        boolean answeredHere() {
            return answeredBy == asked;
        }

        void reply(String line) {
            Thread self = Thread.currentThread();
            answeredBy = self;
            boolean written = false;
            try {
                connection.out.write(answer(200, "OK", line));
                written = true;
            } catch (IOException e) {
                // the connection broke: Kamailio asks again on a new one
            }
            if (self == asked) {
                return; // serve() goes on (or closes) as usual
            }
            // The asking thread is still in a hook: serve the connection on from a new thread.
            if (written && keepAlive && !stopping) {
                try {
                    pool.execute(() -> serve(connection));
                    return;
                } catch (RuntimeException e) {
                    // stopped meanwhile
                }
            }
            connections.remove(connection.socket);
            close(connection.socket);
        }
    }

    private byte[] respond(Request r) {
        Map<String, String> query = Query.parse(r.query);
        switch (r.path) {
            case "/event":
                decider.event(query);
                return answer(200, "OK", "ok");
            case "/health":
                return answer(200, "OK", "ok");
            default:
                return answer(404, "Not Found", "");
        }
    }

    /** Status line, headers and body as one buffer: one write, no Nagle delay between. */
    private static byte[] answer(int status, String reason, String body) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        byte[] h = ("HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: text/plain\r\n"
                + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[h.length + b.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(b, 0, all, h.length, b.length);
        return all;
    }

    /**
     * Read up to the blank line that ends a request's head into {@code buf}; its length
     * without the blank line, -1 at the end of the stream before a request began.
     */
    private static int readHead(InputStream in, byte[] buf) throws IOException {
        int n = 0;
        while (true) {
            int c = in.read();
            if (c < 0) {
                if (n == 0) {
                    return -1;
                }
                throw new IOException("the request ended early");
            }
            if (n == buf.length) {
                throw new IOException("the request head is too long");
            }
            buf[n++] = (byte) c;
            if (c == '\n' && n >= 2 && (buf[n - 2] == '\n'
                    || (n >= 4 && buf[n - 2] == '\r' && buf[n - 3] == '\n'
                    && buf[n - 4] == '\r'))) {
                return n;
            }
            if (n == 2 && buf[0] == '\r' && buf[1] == '\n') {
                n = 0; // a blank line between requests
            }
        }
    }

    private static void close(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    /** The parts of a request head the service reads. */
    static final class Request {
        private static final Pattern LINES = Pattern.compile("\r?\n");

        final String path;
        final String query;
        final boolean keepAlive;
        final long contentLength;

        private Request(String path, String query, boolean keepAlive, long contentLength) {
            this.path = path;
            this.query = query;
            this.keepAlive = keepAlive;
            this.contentLength = contentLength;
        }

        /** The request of {@code head} (request line and headers), or null when unreadable. */
        static Request parse(String head) {
            String[] lines = LINES.split(head);
            String[] first = lines[0].split(" ");
            if (first.length != 3 || !first[2].startsWith("HTTP/1.")) {
                return null;
            }
            boolean keepAlive = first[2].equals("HTTP/1.1");
            long length = 0;
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon <= 0) {
                    continue;
                }
                String name = lines[i].substring(0, colon).trim();
                String value = lines[i].substring(colon + 1).trim();
                if (name.equalsIgnoreCase("Connection")) {
                    keepAlive = value.equalsIgnoreCase("keep-alive")
                            || (keepAlive && !value.equalsIgnoreCase("close"));
                } else if (name.equalsIgnoreCase("Content-Length")) {
                    try {
                        length = Long.parseLong(value);
                    } catch (NumberFormatException e) {
                        return null;
                    }
                    if (length < 0) {
                        return null;
                    }
                }
            }
            String target = first[1];
            int q = target.indexOf('?');
            return new Request(q < 0 ? target : target.substring(0, q),
                    q < 0 ? "" : target.substring(q + 1), keepAlive, length);
        }
    }
}
