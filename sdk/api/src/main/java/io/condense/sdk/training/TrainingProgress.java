package io.condense.sdk.training;

/**
 * Where a training run is, after a batch.
 *
 * @param epoch 0-based epoch
 * @param epochs epochs in the run
 * @param batch 1-based batch within the epoch just finished
 * @param batches batches per epoch
 * @param loss mean loss over the epoch's batches so far
 * @param accuracy fraction of the epoch's training samples so far classified right (training mode)
 * @param learningRate the rate used for this batch
 */
public record TrainingProgress(int epoch, int epochs, int batch, int batches, double loss, double accuracy, double learningRate) {

    /** The fraction of the whole run done, in (0, 1]. */
    public double fraction() {
        return (epoch + (double) batch / batches) / epochs;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "epoch %d/%d batch %d/%d loss %.4f accuracy %.4f lr %.3g",
                epoch + 1, epochs, batch, batches, loss, accuracy, learningRate);
    }
}
