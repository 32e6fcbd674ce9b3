package io.condense.server.cli;

import io.condense.sdk.data.DataReaders;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training data an {@code --auto} search fine-tunes its candidates on: the first {@code samples} of the given inputs
 * and labels, so that a candidate's fine-tuning stage costs seconds rather than minutes and a round of them fits in the
 * budget. Fewer samples than that: the files as given.
 *
 * @param inputs the inputs to upload
 * @param labels the labels to upload
 * @param temporary the folder holding written copies (delete it afterwards), or null when the files are the given ones
 */
record TrainingSubset(Path inputs, Path labels, Path temporary) {

    static TrainingSubset of(Path inputs, Path labels, int samples) throws IOException {
        NdArray x = DataReaders.read(inputs);
        NdArray y = DataReaders.read(labels);
        if (x.shape().length == 0 || x.shape()[0] <= samples) {
            return new TrainingSubset(inputs, labels, null);
        }
        Path folder = Files.createTempDirectory("condense-search-train-");
        Path xs = folder.resolve("train.npy");
        Path ys = folder.resolve("train-labels.npy");
        Npy.write(xs, x.slice(0, samples));
        Npy.write(ys, y.slice(0, (int) Math.min(samples, y.shape()[0])));
        return new TrainingSubset(xs, ys, folder);
    }
}
