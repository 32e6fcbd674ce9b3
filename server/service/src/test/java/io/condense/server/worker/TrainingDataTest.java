package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npy;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.technique.Parameters;
import io.condense.server.blob.BlobStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's side of training data: the ids travel in the job spec (through its bytes, as over Kafka),
 * the host step context reads the blobs on first use with the SDK readers, and refuses what cannot train.
 */
class TrainingDataTest {
    private static final int SAMPLES = 6;

    @TempDir
    Path folder;

    private BlobStore blobs() {
        return new BlobStore(folder.resolve("blobs"), 64L << 20);
    }

    /** As the worker receives it: a StepRequested parsed from the bytes of the one the API wrote. */
    private static JobSpec overTheBus(String trainDataId, String trainLabelsId) throws Exception {
        JobSpec spec = JobSpec.newBuilder()
                .setModelId("a".repeat(64))
                .addSteps(PipelineStep.newBuilder().setTechnique("finetune"))
                .setEvaluationDataId("")
                .setTrainDataId(trainDataId)
                .setTrainLabelsId(trainLabelsId)
                .build();
        byte[] bytes = StepRequested.newBuilder().setJobId("job-1").setSpec(spec).setStepIndex(0).setInputModelId(spec.getModelId())
                .build().toByteArray();
        return StepRequested.parseFrom(bytes).getSpec();
    }

    private HostStepContext context(Supplier<Optional<Dataset>> trainingData) {
        return new HostStepContext("finetune", Parameters.validate(List.of(), Map.of()), new SimpleMeterRegistry(), (fraction, message) -> {
        }, () -> false, Optional.empty(), Optional::empty, Optional::empty, trainingData, Optional::empty,
                id -> ModelLoading.uploaded(new io.condense.server.blob.ModelBundles(blobs()), id, "", folder.resolve("model")),
                () -> {
                    throw new AssertionError("these tests read no job model");
                }, folder.resolve("scratch"));
    }

    private static NdArray inputs(int samples) {
        float[] values = new float[samples * 2 * 3];
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 0.5f;
        }
        return NdArray.ofFloats(new long[] {samples, 2, 3}, values);
    }

    /** An IDX1 file of unsigned bytes, as MNIST labels are stored. */
    private static byte[] idxLabels(byte... labels) {
        ByteBuffer buffer = ByteBuffer.allocate(8 + labels.length);
        buffer.putInt(0x00000801).putInt(labels.length).put(labels);
        return buffer.array();
    }

    @Test
    void theHostOffersTheTrainingRuntime() {
        // found through ServiceLoader as the worker finds it; PyTorch itself loads only when a step trains
        Optional<io.condense.sdk.training.Trainer> trainer = java.util.ServiceLoader.load(io.condense.sdk.training.Trainer.class,
                Worker.class.getClassLoader()).findFirst();

        assertThat(trainer).as("a Trainer on the server's class path (condense-training)").isPresent();
        assertThat(trainer.get().getClass().getName()).isEqualTo("io.condense.server.training.PyTorchTrainer");
    }

    @Test
    void theJobSpecCarriesTheIdsAndTheContextOffersInputsWithTheirLabels() throws Exception {
        BlobStore blobs = blobs();
        String data = blobs.put(Npy.toBytes(inputs(SAMPLES))).hex();
        String labels = blobs.put(idxLabels((byte) 3, (byte) 1, (byte) 4, (byte) 1, (byte) 5, (byte) 9)).hex();
        JobSpec spec = overTheBus(data, labels);
        assertThat(spec.getTrainDataId()).isEqualTo(data);
        assertThat(spec.getTrainLabelsId()).isEqualTo(labels);

        BlobDatasets datasets = new BlobDatasets(blobs);
        AtomicInteger reads = new AtomicInteger();
        HostStepContext context = context(() -> {
            reads.incrementAndGet();
            return datasets.loadTraining(spec, folder.resolve("scratch/training"));
        });
        assertThat(reads).as("nothing is read before a technique asks").hasValue(0);

        Dataset training = context.trainingData().orElseThrow();
        assertThat(training.size()).isEqualTo(SAMPLES);
        assertThat(training.inputs().shape()).containsExactly(SAMPLES, 2, 3);
        assertThat(training.inputs().getFloat(7)).isEqualTo(3.5f);
        assertThat(training.labels()).isPresent();
        assertThat(training.labels().orElseThrow().toLongArray()).containsExactly(3, 1, 4, 1, 5, 9);
        assertThat(context.trainingData().orElseThrow()).isSameAs(training);
        assertThat(reads).as("read once per step").hasValue(1);
        // the other data sets stay separate
        assertThat(context.evaluationData()).isEmpty();
        assertThat(context.calibrationData()).isEmpty();
    }

    @Test
    void realMnistDigitsAsIdxFilesGiveTenThousandLabelledSamples() throws Exception {
        Path shared = Path.of(System.getProperty("condense.shared.dir", "../../../shared"));
        Path images = shared.resolve("data/mnist-digits/images-idx3-ubyte");
        Path labelFile = shared.resolve("data/mnist-digits/labels-idx1-ubyte");
        assertThat(Files.isRegularFile(images) && Files.isRegularFile(labelFile)).as("the shared MNIST digits under %s (set "
                + "-Dcondense.shared.dir)", shared.toAbsolutePath()).isTrue();
        BlobStore blobs = blobs();
        JobSpec spec = overTheBus(blobs.put(Files.readAllBytes(images)).hex(), blobs.put(Files.readAllBytes(labelFile)).hex());

        HostStepContext context = context(() -> new BlobDatasets(blobs).loadTraining(spec, folder.resolve("scratch/training")));
        Dataset training = context.trainingData().orElseThrow();
        assertThat(training.size()).isEqualTo(10_000);
        assertThat(training.inputs().shape()).containsExactly(10_000, 28, 28);
        long[] labels = training.labels().orElseThrow().toLongArray();
        assertThat(labels).hasSize(10_000);
        assertThat(java.util.Arrays.stream(labels).min().orElseThrow()).isZero();
        assertThat(java.util.Arrays.stream(labels).max().orElseThrow()).isEqualTo(9);
        assertThat(java.util.Arrays.stream(labels).distinct().count()).isEqualTo(10);
    }

    @Test
    void aJobWithoutTrainingDataOffersNoneAndReadsNothing() throws Exception {
        JobSpec spec = overTheBus("", "");
        HostStepContext context = context(() -> new BlobDatasets(blobs()).loadTraining(spec, folder.resolve("scratch/training")));
        assertThat(context.trainingData()).isEmpty();
        assertThat(folder.resolve("scratch/training")).doesNotExist();
    }

    @Test
    void labelsWhoseCountDiffersFromTheInputsAreInvalidDataEveryTimeTheyAreAskedFor() throws Exception {
        BlobStore blobs = blobs();
        String data = blobs.put(Npy.toBytes(inputs(SAMPLES))).hex();
        String labels = blobs.put(Npy.toBytes(NdArray.ofLongs(new long[] {5}, new long[] {0, 1, 2, 3, 4}))).hex();
        JobSpec spec = overTheBus(data, labels);
        HostStepContext context = context(() -> new BlobDatasets(blobs).loadTraining(spec, folder.resolve("scratch/training")));

        assertThatThrownBy(context::trainingData).isInstanceOfSatisfying(CondenseException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA);
            assertThat(e.getMessage())
                    .contains("train_data_id " + data).contains("train_labels_id " + labels)
                    .contains("labels hold 5 samples but inputs hold 6")
                    .contains("same number of samples")
                    .doesNotContain(folder.toString());
        });
        // asked again, the same answer (not a confusing failure from the first read's files)
        assertThatThrownBy(context::trainingData).isInstanceOfSatisfying(CondenseException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA));
    }

    @Test
    void trainingInputsWithoutLabelsAreDataRequired() throws Exception {
        BlobStore blobs = blobs();
        String data = blobs.put(Npy.toBytes(inputs(SAMPLES))).hex();
        JobSpec spec = overTheBus(data, "");
        HostStepContext context = context(() -> new BlobDatasets(blobs).loadTraining(spec, folder.resolve("scratch/training")));
        assertThatThrownBy(context::trainingData).isInstanceOfSatisfying(CondenseException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.DATA_REQUIRED);
            assertThat(e.getMessage()).contains("train_data_id " + data).contains("no labels").contains("--train-labels");
        });
    }

    @Test
    void labelsWithoutInputsAreInvalidData() throws Exception {
        BlobStore blobs = blobs();
        String labels = blobs.put(idxLabels((byte) 1, (byte) 2)).hex();
        JobSpec spec = overTheBus("", labels);
        assertThatThrownBy(() -> new BlobDatasets(blobs).loadTraining(spec, folder.resolve("scratch/training")))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA);
                    assertThat(e.getMessage()).contains("train_labels_id " + labels).contains("--train-data");
                });
    }

    @Test
    void floatLabelsAreInvalidDataNamingTheTrainingIds() throws Exception {
        BlobStore blobs = blobs();
        String data = blobs.put(Npy.toBytes(inputs(2))).hex();
        String labels = blobs.put(Npy.toBytes(NdArray.ofFloats(new long[] {2}, new float[] {0.5f, 1.5f}))).hex();
        JobSpec spec = overTheBus(data, labels);
        assertThatThrownBy(() -> new BlobDatasets(blobs).loadTraining(spec, folder.resolve("scratch/training")))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA);
                    assertThat(e.getMessage()).contains("train_labels_id " + labels).contains("integer class indices")
                            .doesNotContain(folder.toString());
                });
    }

    @Test
    void aTrainingBlobThatIsNotStoredIsNotFound() throws Exception {
        BlobStore blobs = blobs();
        String labels = blobs.put(idxLabels((byte) 1)).hex();
        JobSpec spec = overTheBus("b".repeat(64), labels);
        assertThatThrownBy(() -> new BlobDatasets(blobs).loadTraining(spec, folder.resolve("scratch/training")))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
                    assertThat(e.getMessage()).contains("b".repeat(64));
                });
    }
}
