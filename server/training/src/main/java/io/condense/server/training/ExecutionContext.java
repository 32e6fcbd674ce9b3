package io.condense.server.training;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;

/**
 * How a graph runs: in training mode (dropout active, batch normalization on batch statistics unless frozen) or
 * inference mode, at which opset of the default domain, and where constants are created.
 */
record ExecutionContext(NDManager manager, boolean training, boolean frozenBatchNormStatistics, long opset) {
    ExecutionContext {
        requireNonNull(manager, "manager is null");
    }
}
