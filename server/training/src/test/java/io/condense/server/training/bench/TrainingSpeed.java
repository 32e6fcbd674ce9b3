package io.condense.server.training.bench;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import io.condense.server.training.Fixtures;
import io.condense.server.training.GraphBuilder;
import io.condense.server.training.PyTorchTrainer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;

/**
 * LeNet-5 training speed: Condense's runtime against PyTorch itself in Python ({@code /usr/bin/python3}, Debian's
 * python3-torch) in the same run, on the same Fashion-MNIST images, batch size, optimizer and thread count. Each side
 * runs {@value #ROUNDS} times, alternating; the best images/s of each is compared, and the ratio printed.
 *
 * <p>{@code mvn -q -pl server/training exec:exec@train-speed}; arguments: Fashion-MNIST folder, the Python script,
 * threads.
 */
public final class TrainingSpeed {
    static final int SAMPLES = 12_800;
    static final int BATCH = 64;
    static final int WARM_UP_BATCHES = 20;
    static final int ROUNDS = 3;

    private TrainingSpeed() {
    }

    public static void main(String[] args) throws Exception {
        Path fashion = Path.of(args.length > 0 ? args[0] : Fixtures.DEFAULT_FASHION_DIR);
        Path script = Path.of(args.length > 1 ? args[1] : "src/test/python/lenet5_speed.py");
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        Dataset data = Fixtures.fashion(fashion, "train").head(SAMPLES);
        PyTorchTrainer trainer = new PyTorchTrainer();
        double bestCondense = 0;
        double bestPytorch = 0;
        for (int round = 0; round < ROUNDS; round++) {
            double condense = condense(trainer, data);
            double pytorch = pytorch(fashion, script, threads);
            System.out.printf(Locale.ROOT, "round %d: Condense %.0f images/s, PyTorch %.0f images/s%n", round + 1, condense, pytorch);
            bestCondense = Math.max(bestCondense, condense);
            bestPytorch = Math.max(bestPytorch, pytorch);
        }
        System.out.printf(Locale.ROOT, "LeNet-5 training on %d Fashion-MNIST images, batch %d, SGD momentum 0.9, %d threads:%n",
                SAMPLES, BATCH, threads);
        System.out.printf(Locale.ROOT, "  Condense (DJL 0.36.0, PyTorch %s native): %.0f images/s%n", ai.djl.engine.Engine.getInstance().getVersion(),
                bestCondense);
        System.out.printf(Locale.ROOT, "  PyTorch in Python (/usr/bin/python3): %.0f images/s%n", bestPytorch);
        System.out.printf(Locale.ROOT, "  ratio Condense / PyTorch = %.2f (goal: at least 0.5)%n", bestCondense / bestPytorch);
    }

    /** Images per second of one timed epoch, after warm-up batches, as the run's own epoch clock measures it. */
    private static double condense(PyTorchTrainer trainer, Dataset data) {
        trainer.train(request(data.head(WARM_UP_BATCHES * BATCH), 1));
        TrainingResult result = trainer.train(request(data, 2));
        return result.lastEpoch().samplesPerSecond();
    }

    private static TrainingRequest request(Dataset data, long seed) {
        return TrainingRequest.builder(GraphBuilder.leNet5(1), data).inputScale(1f / 255).batchSize(BATCH).epochs(1).seed(seed)
                .optimizer(Optimizer.sgd(0.9, 0)).schedule(LearningRateSchedule.constant(0.01)).build();
    }

    private static double pytorch(Path fashion, Path script, int threads) throws Exception {
        Process process = new ProcessBuilder("/usr/bin/python3", script.toString(), fashion.toString(), Integer.toString(threads),
                Integer.toString(SAMPLES), Integer.toString(BATCH), Integer.toString(WARM_UP_BATCHES)).redirectErrorStream(true).start();
        String found = null;
        StringBuilder all = new StringBuilder();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                all.append(line).append('\n');
                if (line.startsWith("images_per_second=")) {
                    found = line.substring("images_per_second=".length());
                }
            }
        }
        int exit = process.waitFor();
        if (exit != 0 || found == null) {
            throw new IllegalStateException("the PyTorch script failed (exit " + exit + "):\n" + all);
        }
        return Double.parseDouble(found);
    }
}
