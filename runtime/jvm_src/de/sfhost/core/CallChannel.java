package de.sfhost.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The Unix socket on which a module's process answers calls (runtime/modules/module_process.py
 * connects to the address it finds in {@link #ENV} before it reads its first request).
 *
 * <p>No thread of its own reads it: the threads that wait for call answers take turns
 * (leader/follower). The one holding the turn reads and hands over whatever answers arrive; the
 * others park until their answer is there or the turn is free ({@link ModulePipe#awaitCall}).
 * So an answer wakes the thread that waits for it, not a reader thread that then wakes it: one
 * wake-up less per call, which counts on a loaded machine with two cores. The socket lives in
 * a folder only this user may enter, and is unlinked once the process connected.
 */
final class CallChannel {
    /** The environment variable that tells the module's process where to connect. */
    static final String ENV = "SFM_MODULE_CALLS";
    /** An answer frame longer than this is a broken stream (answers are a few hundred bytes). */
    private static final int MAX_FRAME = 16 * 1024 * 1024;

    /** Where the frames read go. */
    interface Sink {
        /** An ANSWER frame: request id and answer text. */
        void answer(int id, String text);

        /** A LOG frame the hook wrote during a call (sent with the call's answer). */
        void log(String text);
    }

    private final Path folder;
    private final Path address;
    private final ServerSocketChannel server;
    private final ReentrantLock turn = new ReentrantLock();
    // Set once by accept(), before any call is sent.
    private volatile SocketChannel channel;
    private volatile Selector selector;
    // Guarded by turn.
    private ByteBuffer buffer = ByteBuffer.allocate(1 << 16);
    private volatile String broken;
    // Set with broken when the socket failed while the process may still run (not at its end).
    private volatile boolean failed;

    private CallChannel(Path folder, Path address, ServerSocketChannel server) {
        this.folder = folder;
        this.address = address;
        this.server = server;
    }

    /**
     * A listening socket in a fresh private folder (mode 700, as Files makes temp folders).
     * The Java 16 names are written out in the body, not imported: module builds compile
     * against this source tree with --release 8 or 11 and read only its signatures.
     */
    static CallChannel open() throws IOException {
        Path folder = Files.createTempDirectory("sfm-module-");
        Path address = folder.resolve("calls");
        ServerSocketChannel server = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        try {
            server.bind(java.net.UnixDomainSocketAddress.of(address));
        } catch (IOException e) {
            server.close();
            Files.deleteIfExists(folder);
            throw e;
        }
        return new CallChannel(folder, address, server);
    }

    /** The socket's path, for {@link #ENV}. */
    String address() {
        return address.toString();
    }

    /**
     * Take the process's connection, which it made before it read its first request (so it is
     * there once any request was answered); stops listening either way.
     */
    void accept() throws IOException {
        try {
            server.configureBlocking(false);
            SocketChannel accepted = server.accept();
            if (accepted == null) {
                throw new IOException("its Python process did not connect to its call socket");
            }
            accepted.configureBlocking(false);
            Selector s = Selector.open();
            accepted.register(s, SelectionKey.OP_READ);
            selector = s;
            channel = accepted;
        } finally {
            stopListening();
        }
    }

    private void stopListening() {
        try {
            server.close();
            Files.deleteIfExists(address);
            Files.deleteIfExists(folder);
        } catch (IOException e) {
            // a leftover empty folder in the temp folder: nothing a call notices
        }
    }

    /** Why the channel cannot be read any more (null: it can). */
    String broken() {
        return channel == null ? "its call socket is not connected" : broken;
    }

    /** Why the socket failed while its process may still run (null: it did not): something
     * not a frame came, or reading failed; not its end, which the process's end explains. */
    String failure() {
        return failed ? broken : null;
    }

    /** Take the reading turn if no other thread has it. */
    boolean tryTurn() {
        return turn.tryLock();
    }

    void endTurn() {
        turn.unlock();
    }

    /** Whether a thread has the reading turn now. */
    boolean turnTaken() {
        return turn.isLocked();
    }

    /**
     * With the turn held: read answers into {@code sink} until {@code done} or the deadline
     * ({@link System#nanoTime}); returns early when the channel ends or breaks
     * ({@link #broken} then says why). The caller clears its thread's interrupt first: the
     * selector returns at once while it is set.
     */
    void readUntil(BooleanSupplier done, long deadline, Sink sink) {
        SocketChannel c = channel;
        Selector s = selector;
        if (c == null || s == null || broken != null) {
            return;
        }
        try {
            while (true) {
                int n = c.read(buffer);
                if (n < 0) {
                    broken = "its Python process closed its call socket";
                    return;
                }
                frames(sink);
                if (done.getAsBoolean()) {
                    return;
                }
                if (n > 0) {
                    continue;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                // Milliseconds, rounded up: ModuleProcess gives up 2 ms before the hook's deadline.
                s.select(Math.max(1L, TimeUnit.NANOSECONDS.toMillis(left + 999_999L)));
                s.selectedKeys().clear();
            }
        } catch (IOException | ClosedSelectorException e) {
            broken = "its call socket failed (" + e + ")";
            failed = !(e instanceof ClosedChannelException
                    || e instanceof ClosedSelectorException);
        }
    }

    /** Hand every complete frame in the buffer to {@code sink}; keep the rest. */
    private void frames(Sink sink) throws IOException {
        buffer.flip();
        while (buffer.remaining() >= 4) {
            int length = buffer.getInt(buffer.position());
            if (length < 5 || length > MAX_FRAME) {
                throw new IOException("a frame of " + length + " bytes");
            }
            if (buffer.remaining() < 4 + length) {
                if (buffer.capacity() < 4 + length) {
                    ByteBuffer bigger = ByteBuffer.allocate(4 + length);
                    bigger.put(buffer);
                    buffer = bigger;
                    return; // already in write mode
                }
                break;
            }
            buffer.getInt();
            byte kind = buffer.get();
            int id = buffer.getInt();
            byte[] body = new byte[length - 5];
            buffer.get(body);
            if (kind == ModuleProcess.ANSWER) {
                sink.answer(id, new String(body, StandardCharsets.UTF_8));
            } else if (kind == ModuleProcess.LOG) {
                sink.log(new String(body, StandardCharsets.UTF_8));
            }
        }
        buffer.compact();
    }

    /** Close the socket (the process ended): a thread selecting on it wakes. */
    void close() {
        stopListening();
        try {
            Selector s = selector;
            if (s != null) {
                s.wakeup();
                s.close();
            }
            SocketChannel c = channel;
            if (c != null) {
                c.close();
            }
        } catch (IOException e) {
            // closed as far as it can be
        }
    }
}
