package io.condense.sdk.training;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.model.OnnxModel;
import java.util.Optional;

/** What training minimises. */
public sealed interface Loss {

    /** Cross-entropy of the labels against the softmax of the logits output. */
    static Loss crossEntropy() {
        return new CrossEntropy();
    }

    /**
     * Knowledge distillation (Hinton et al. 2015): {@code alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(labels, s)}
     * with {@code t} the teacher's logits (its first graph output) on the same samples and {@code s} the trained model's.
     */
    static Loss distillation(OnnxModel teacher, double temperature, double alpha) {
        return new Distillation(teacher, temperature, alpha, Optional.empty());
    }

    /**
     * Cross-entropy on the model's logits output ({@code [batch, classes]}, or any shape with the batch first,
     * flattened to that). A LogSoftmax output works as well, since log-softmax of log-probabilities changes nothing.
     */
    record CrossEntropy() implements Loss {
    }

    /**
     * Knowledge distillation from a teacher model.
     *
     * @param teacher run in inference mode on every training sample (same input layout and input scale as the trained
     *     model); its logits output must have as many values per sample as the trained model's
     * @param temperature softens both distributions; in (0, 100]
     * @param alpha the weight of the teacher's term; in [0, 1] (0 is plain cross-entropy, 1 ignores the labels)
     * @param teacherLogitsOutput the teacher's graph output to read; empty means its first output
     */
    record Distillation(OnnxModel teacher, double temperature, double alpha, Optional<String> teacherLogitsOutput) implements Loss {
        public Distillation {
            requireNonNull(teacher, "teacher is null");
            teacherLogitsOutput = teacherLogitsOutput == null ? Optional.empty() : teacherLogitsOutput;
            if (!(temperature > 0 && temperature <= 100)) {
                throw new IllegalArgumentException("temperature must be in (0, 100], got " + temperature);
            }
            if (!(alpha >= 0 && alpha <= 1)) {
                throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
            }
        }

        @Override
        public String toString() {
            return "Distillation[temperature=" + temperature + ", alpha=" + alpha + teacherLogitsOutput.map(o -> ", output=" + o)
                    .orElse("") + "]";
        }
    }
}
