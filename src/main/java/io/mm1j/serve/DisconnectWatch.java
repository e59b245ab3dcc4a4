package io.mm1j.serve;

import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * Watches the client's side of the connection while its request generates. Jetty reads nothing from a connection
 * while its request is handled, so a client that went away would be noticed only when something is written (never,
 * during a prefill or a non-streaming answer); this registers read interest on the connection's endpoint instead.
 * What the socket then yields:
 * <ul>
 *   <li>an error: the connection is gone, and the job is cancelled;</li>
 *   <li>end-of-stream: the client closed the connection, or only its sending side (a half-close, as {@code nc -N}
 *       does, which HTTP/1.1 allows: the client still reads the answer). The two look the same until the server
 *       writes, so the job is told ({@link GenerationQueue.Job#clientEof}) and the request thread probes with
 *       harmless writes: a closed client's TCP answers with a reset, and the next write fails;</li>
 *   <li>a byte: the client sent its next request (pipelining); the watch ends, and {@link #stop} hands the byte back
 *       to the connection, which serves that request after this one (keep-alive);</li>
 *   <li>an idle timeout or a spurious wake-up: the watch goes on.</li>
 * </ul>
 * {@link #stop} must run before the answer completes: Jetty aborts a connection that still has read interest then.
 */
final class DisconnectWatch implements Callback {
    /** How often a client that sent end-of-stream is probed with a write. */
    static final long PROBE_MILLIS = 250;

    private final EndPoint endPoint;
    private final HttpConnection connection;
    private final GenerationQueue.Job job;
    private ByteBuffer early; // guarded by this: the first byte of the next request, read by the watch
    private boolean stopped; // guarded by this
    private boolean registered; // guarded by this: the endpoint holds this as its read interest

    private DisconnectWatch(EndPoint endPoint, HttpConnection connection, GenerationQueue.Job job) {
        this.endPoint = endPoint;
        this.connection = connection;
        this.job = job;
    }

    /**
     * Starts watching {@code req}'s connection for {@code job}; null when it cannot be watched: not Jetty's HTTP/1
     * connection, or the client's next request is already buffered (a pipelining client, waiting for its answers).
     */
    static DisconnectWatch start(HttpServletRequest req, GenerationQueue.Job job) {
        org.eclipse.jetty.server.Request core = ServletContextRequest.getServletContextRequest(req);
        if (core == null || !(core.getConnectionMetaData().getConnection() instanceof HttpConnection http)
                || !http.isRequestBufferEmpty() || !(http.getEndPoint() instanceof AbstractEndPoint)) {
            return null;
        }
        DisconnectWatch watch = new DisconnectWatch(http.getEndPoint(), http, job);
        synchronized (watch) {
            watch.rearm();
            return watch.registered ? watch : null;
        }
    }

    /**
     * Ends the watch (waiting for a read in progress) and hands a byte it read back to the connection, so a
     * pipelined request is served on this connection after the answer.
     */
    void stop() {
        ByteBuffer next;
        synchronized (this) {
            stopped = true;
            next = early;
            if (registered) { // withdrawn: only this watch registers read interest while the request is handled
                ((AbstractEndPoint) endPoint).getFillInterest().onFail(new CancellationException("answered"));
            }
        }
        if (next != null) {
            connection.onUpgradeTo(next); // appended to the connection's request buffer, empty when the watch began
        }
    }

    @Override
    public synchronized void succeeded() {
        registered = false;
        if (stopped || job.finished()) {
            return;
        }
        ByteBuffer one = BufferUtil.allocate(1);
        try {
            int n = endPoint.fill(one);
            if (n < 0) {
                job.clientEof();
            } else if (n > 0) {
                early = one;
            } else {
                rearm();
            }
        } catch (IOException e) {
            job.cancel("client");
        }
    }

    @Override
    public synchronized void failed(Throwable failure) {
        registered = false;
        if (stopped || job.finished()) {
            return;
        }
        if (failure instanceof TimeoutException && endPoint.isOpen()) {
            rearm(); // the connection's idle timeout: the client is still there, only waiting
        } else {
            job.cancel("client");
        }
    }

    private void rearm() {
        registered = endPoint.isOpen() && endPoint.tryFillInterested(this);
    }

    /** A write to the client. */
    @FunctionalInterface
    interface Write {
        void run() throws IOException;
    }

    /**
     * The request thread's half of the watch: harmless writes (JSON whitespace, SSE comments) that tell a client
     * that half-closed its connection from one that closed it. The first makes a closed client's TCP answer with a
     * reset; the next then fails, with an IOException.
     */
    static final class Probe {
        private final Write write;
        private long due = System.nanoTime();

        Probe(Write write) {
            this.write = write;
        }

        /**
         * Once the client has sent end-of-stream, writes if {@link #PROBE_MILLIS} passed since the last probe;
         * returns the nanoseconds until the next one is due ({@code Long.MAX_VALUE} before end-of-stream).
         */
        long poke(GenerationQueue.Job job) throws IOException {
            if (!job.sawClientEof()) {
                return Long.MAX_VALUE;
            }
            long now = System.nanoTime();
            if (now - due >= 0) {
                write.run();
                due = now + TimeUnit.MILLISECONDS.toNanos(PROBE_MILLIS);
            }
            return due - now;
        }
    }
}
