package io.condense.server.worker;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;

/**
 * Turns anything thrown while running a step, evaluating a result or ending a job into a typed Condense error,
 * so one job's failure never reaches the worker thread: memory and stack exhaustion are RESOURCE_EXHAUSTED,
 * anything else unexpected INTERNAL_ERROR.
 */
final class Failures {
    private Failures() {
    }

    /**
     * @param failure what was thrown
     * @param what what was running, for the message ("step 1 (prune)", "the evaluation of the result")
     */
    static CondenseException classify(Throwable failure, String what) {
        if (failure instanceof CondenseException condense) {
            return condense;
        }
        if (failure instanceof OutOfMemoryError) {
            long heapMiB = Runtime.getRuntime().maxMemory() / (1024 * 1024);
            return new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, what + " ran out of memory (" + failure.getMessage()
                    + "; this worker's heap is " + heapMiB + " MiB): the model or its data need more than the worker has; "
                    + "run it on a worker with more memory (-Xmx)", failure);
        }
        if (failure instanceof StackOverflowError) {
            return new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, what + " ran out of thread stack (a graph too deep to "
                    + "walk, or endless recursion)", failure);
        }
        return new CondenseException(ErrorCode.INTERNAL_ERROR, what + " failed unexpectedly: " + failure, failure);
    }
}
