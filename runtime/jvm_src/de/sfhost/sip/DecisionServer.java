package de.sfhost.sip;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The decision service Kamailio asks per INVITE: {@code GET /decide?caller=..&called=..}
 * answers the {@link Decider}'s line, {@code GET /event?kind=..&callid=..} records a call event,
 * {@code GET /health} answers "ok". HTTP/1.1 with kept-alive connections (one per Kamailio
 * worker) on 127.0.0.1, a fixed pool of threads; no Python on the way.
 */
public final class DecisionServer {
    private final Decider decider;
    private final HttpServer server;
    private final ExecutorService pool;

    /** Bind 127.0.0.1:{@code port} (0: a free port); {@link #start} begins answering. */
    public DecisionServer(Decider decider, int port, int threads) throws IOException {
        // The JDK server writes headers and body apart: without NODELAY, Nagle and the peer's
        // delayed ACK hold the body back ~40 ms on a kept-alive connection. Read once, when
        // the first server is made.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        this.decider = decider;
        this.server = HttpServer.create(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "sip-decision-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", this::handle);
    }

    public int getPort() {
        return server.getAddress().getPort();
    }

    /** Start answering (the server's dispatcher is a daemon thread: it never holds exit up). */
    public void start() throws InterruptedException {
        Thread starter = new Thread(server::start, "sip-decision-start");
        starter.setDaemon(true); // the dispatcher thread inherits it
        starter.start();
        starter.join();
    }

    /** Stop answering and close every connection (Kamailio then rings plainly). */
    public void stop() {
        server.stop(0);
        pool.shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        try {
            String path = ex.getRequestURI().getRawPath();
            Map<String, String> query = Query.parse(ex.getRequestURI().getRawQuery());
            String body;
            if (path.equals("/decide")) {
                body = decider.decide(query.getOrDefault("caller", ""),
                        query.getOrDefault("called", ""));
            } else if (path.equals("/event")) {
                decider.event(query);
                body = "ok";
            } else if (path.equals("/health")) {
                body = "ok";
            } else {
                ex.sendResponseHeaders(404, -1);
                return;
            }
            byte[] data = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain");
            ex.sendResponseHeaders(200, data.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(data);
            }
        } finally {
            ex.close();
        }
    }
}
