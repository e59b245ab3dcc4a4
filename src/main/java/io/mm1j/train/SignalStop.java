package io.mm1j.train;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * SIGINT/SIGTERM for a training loop: the signal asks the loop to stop after its current step and checkpoint; the
 * JVM waits (up to two minutes) until the loop has closed this, then says which checkpoint it wrote. Open for the
 * span of the loop, as try-with-resources.
 */
final class SignalStop implements AutoCloseable {
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;
    private volatile boolean requested;
    private volatile long checkpointed;
    private volatile Path completedModel;

    /** @param checkpoints the run's checkpoints folder, for the closing message */
    SignalStop(String name, Path checkpoints) {
        hook = new Thread(() -> {
            requested = true; // finish the step, checkpoint, then let the JVM go
            System.err.println("mm1: stopping: finishing the current step and writing a checkpoint …");
            try {
                if (finished.await(120, TimeUnit.SECONDS) && completedModel != null) {
                    System.err.println("mm1: the run had already finished (step " + checkpointed + "); its output is "
                            + "in " + completedModel);
                } else if (finished.await(0, TimeUnit.SECONDS) && checkpointed > 0) {
                    System.err.println("mm1: stopped after step " + checkpointed + "; checkpoint "
                            + checkpoints.resolve("step-" + checkpointed) + " written (to go on, run the same command "
                            + "with --resume; for mm1 ablate, the same command as it was)");
                }
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "mm1-" + name + "-signal");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Whether a signal asked the loop to stop. */
    boolean requested() {
        return requested;
    }

    /** Records that the run completed at {@code step} with its model in {@code model} (a late signal stops nothing). */
    void completed(long step, Path model) {
        checkpointed = step;
        completedModel = model;
    }

    /** Records that the checkpoint of {@code step} was written. */
    void checkpointed(long step) {
        checkpointed = step;
    }

    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // the JVM is already shutting down (signal): the hook is running
        }
    }
}
