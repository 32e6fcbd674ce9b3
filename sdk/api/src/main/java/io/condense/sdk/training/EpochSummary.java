package io.condense.sdk.training;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * One epoch of a training run.
 *
 * @param epoch 0-based
 * @param loss mean training loss over the epoch's batches
 * @param accuracy training accuracy over the epoch (training mode, weights changing as it goes)
 * @param validationAccuracy accuracy on the request's validation data after the epoch, in inference mode
 * @param samples training samples seen in the epoch
 * @param seconds wall time of the epoch's training (validation excluded)
 */
public record EpochSummary(int epoch, double loss, double accuracy, OptionalDouble validationAccuracy, long samples, double seconds) {
    public EpochSummary {
        validationAccuracy = validationAccuracy == null ? OptionalDouble.empty() : validationAccuracy;
    }

    /** Training samples per second in this epoch. */
    public double samplesPerSecond() {
        return seconds > 0 ? samples / seconds : 0;
    }

    /**
     * This epoch as a row of a report's {@code history}: {@code epoch} (1-based), {@code loss}, {@code training_accuracy},
     * {@code validation_accuracy} (when measured) and {@code seconds}.
     */
    public Map<String, Object> toMap() {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("epoch", epoch + 1);
        row.put("loss", loss);
        row.put("training_accuracy", accuracy);
        validationAccuracy.ifPresent(v -> row.put("validation_accuracy", v));
        row.put("seconds", seconds);
        return row;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "epoch %d: loss %.4f accuracy %.4f%s (%d samples, %.1f s)", epoch + 1, loss,
                accuracy, validationAccuracy.isPresent()
                        ? String.format(java.util.Locale.ROOT, " validation accuracy %.4f", validationAccuracy.getAsDouble()) : "",
                samples, seconds);
    }
}
