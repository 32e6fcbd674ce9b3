package io.condense.sdk.training;

/** What training minimises. */
public sealed interface Loss {

    /** Cross-entropy of the labels against the softmax of the logits output. */
    static Loss crossEntropy() {
        return new CrossEntropy();
    }

    /**
     * Cross-entropy on the model's logits output ({@code [batch, classes]}, or any shape with the batch first,
     * flattened to that). A LogSoftmax output works as well, since log-softmax of log-probabilities changes nothing.
     */
    record CrossEntropy() implements Loss {
    }
}
