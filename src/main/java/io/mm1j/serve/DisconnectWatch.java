package io.mm1j.serve;

import java.io.IOException;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * Notices a client that closes its connection while its non-streaming request is generating. Jetty reads nothing
 * from a connection while its request is handled, so a closed socket would go unseen until the answer is written;
 * this registers read interest on the connection's endpoint instead. A readable socket that yields end-of-stream (or
 * an error) means the client is gone and the job is cancelled; an idle timeout or a spurious wake-up re-arms the
 * watch; bytes (a pipelined request) end it, and the response closes the connection.
 */
final class DisconnectWatch implements Callback {
    private final EndPoint endPoint;
    private final GenerationQueue.Job job;

    private DisconnectWatch(EndPoint endPoint, GenerationQueue.Job job) {
        this.endPoint = endPoint;
        this.job = job;
    }

    /** Starts watching; false when the connection already has a reader (then nothing is watched). */
    static boolean start(EndPoint endPoint, GenerationQueue.Job job) {
        return endPoint.tryFillInterested(new DisconnectWatch(endPoint, job));
    }

    @Override
    public void succeeded() {
        if (job.finished()) {
            return;
        }
        try {
            int n = endPoint.fill(BufferUtil.allocate(1));
            if (n < 0) {
                job.cancel("client");
            } else if (n == 0) {
                rearm();
            }
        } catch (IOException e) {
            job.cancel("client");
        }
    }

    @Override
    public void failed(Throwable failure) {
        if (job.finished()) {
            return;
        }
        if (failure instanceof TimeoutException && endPoint.isOpen()) {
            rearm(); // the connection's idle timeout: the client is still there, only waiting
        } else {
            job.cancel("client");
        }
    }

    private void rearm() {
        if (!job.finished() && endPoint.isOpen()) {
            endPoint.tryFillInterested(this);
        }
    }
}
