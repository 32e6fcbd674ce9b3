package io.condense.server.runtime;

import static java.util.Objects.requireNonNull;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.tensor.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.SplittableRandom;

/** One {@link OnnxRuntimeEvaluator#compare} call: feeds both sessions the same inputs and accumulates the metrics. */
final class Comparison {
    /** Generated integer inputs are uniform in [0, GENERATED_INTEGER_BOUND). */
    static final int GENERATED_INTEGER_BOUND = 10;

    private final OnnxRuntimeSession original;
    private final OnnxRuntimeSession candidate;
    private final EvaluationRequest request;
    private final int batchSize;

    /** One input's values for one run: {@code count} values of {@code source} from {@code offset}, as {@code shape}. */
    record Feed(String inputName, NdArray source, int offset, int count, long[] shape) {
    }

    /** The feeds of one run and how many samples it holds. */
    record Batch(int sampleCount, List<Feed> feeds) {
    }

    /** Where the runs come from: batches of a data set, or generated samples. */
    interface Batches {
        int sampleCount();

        int batchCount();

        Batch batch(int index);

        /** One sample alone, for latency. */
        Batch single();

        /** The labels of all samples, when known. */
        long[] labels();
    }

    Comparison(OnnxRuntimeSession original, OnnxRuntimeSession candidate, EvaluationRequest request, int batchSize) {
        this.original = requireNonNull(original, "original is null");
        this.candidate = requireNonNull(candidate, "candidate is null");
        this.request = requireNonNull(request, "request is null");
        this.batchSize = batchSize;
    }

    EvaluationResult run() {
        checkSameInputs();
        Batches batches = request.data().isPresent() ? dataBatches(request.data().get()) : generatedBatches();
        Metrics metrics = new Metrics(original.outputs(), batches.labels());
        int sample = 0;
        for (int i = 0; i < batches.batchCount(); i++) {
            Batch batch = batches.batch(i);
            Map<String, NdArray> reference = run(original, batch);
            Map<String, NdArray> compressed = run(candidate, batch);
            metrics.add(sample, batch.sampleCount(), reference, compressed);
            sample += batch.sampleCount();
        }
        OptionalDouble latencyBefore = OptionalDouble.empty();
        OptionalDouble latencyAfter = OptionalDouble.empty();
        if (request.latencyRuns() > 0) {
            double[] medians = latency(batches.single(), request.latencyRuns(), request.latencyMillis());
            latencyBefore = OptionalDouble.of(medians[0]);
            latencyAfter = OptionalDouble.of(medians[1]);
        }
        return metrics.result(sample, latencyBefore, latencyAfter);
    }

    private void checkSameInputs() {
        List<String> originalNames = names(original.inputs());
        List<String> candidateNames = names(candidate.inputs());
        if (!originalNames.equals(candidateNames)) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "the candidate model's inputs " + candidateNames
                    + " differ from the original's " + originalNames + "; a compressed model must take the same inputs "
                    + "to be compared");
        }
    }

    private static List<String> names(List<ValueSpec> values) {
        List<String> names = new ArrayList<>(values.size());
        for (ValueSpec value : values) {
            names.add(value.name());
        }
        return names;
    }

    private Map<String, NdArray> run(OnnxRuntimeSession session, Batch batch) {
        try (OnnxRuntimeSession.RunInputs inputs = inputs(session, batch)) {
            return session.runTensors(inputs.tensors());
        }
    }

    private static OnnxRuntimeSession.RunInputs inputs(OnnxRuntimeSession session, Batch batch) {
        OnnxRuntimeSession.RunInputs inputs = session.new RunInputs();
        try {
            for (Feed feed : batch.feeds()) {
                inputs.put(feed.inputName(), inputType(session, feed.inputName()), feed.shape(), feed.source(), feed.offset(), feed.count());
            }
            return inputs;
        } catch (OrtException | RuntimeException e) {
            inputs.close();
            if (e instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw OnnxRuntimeSession.runFailure((OrtException) e);
        }
    }

    private static DataType inputType(OnnxRuntimeSession session, String name) {
        for (ValueSpec input : session.inputs()) {
            if (input.name().equals(name)) {
                return input.dataType();
            }
        }
        throw new IllegalStateException("no input " + name);
    }

    /**
     * Median milliseconds of interleaved runs of each model, after warm-up; [original, candidate]. At least {@code runs}
     * pairs, then more while the timed pairs have taken under {@code millis} in all (at most
     * {@link OnnxRuntimeEvaluator#LATENCY_MAX_RUNS_FACTOR} x {@code runs}): ten runs of a model of a few milliseconds give a
     * ratio that moves by 10% from one job to the next on a shared machine, and a search that picks the fastest candidate
     * by that ratio picks the luckiest measurement; a large model stays at {@code runs}.
     */
    private double[] latency(Batch single, int runs, int millis) {
        try (OnnxRuntimeSession.RunInputs originalInputs = inputs(original, single);
                OnnxRuntimeSession.RunInputs candidateInputs = inputs(candidate, single)) {
            Map<String, OnnxTensor> originalTensors = originalInputs.tensors();
            Map<String, OnnxTensor> candidateTensors = candidateInputs.tensors();
            for (int i = 0; i < OnnxRuntimeEvaluator.WARM_UP_RUNS; i++) {
                original.runDiscardingOutputs(originalTensors);
                candidate.runDiscardingOutputs(candidateTensors);
            }
            int most = millis > 0 ? runs * OnnxRuntimeEvaluator.LATENCY_MAX_RUNS_FACTOR : runs;
            double[] originalTimes = new double[most];
            double[] candidateTimes = new double[most];
            double elapsed = 0;
            int pairs = 0;
            while (pairs < most && (pairs < runs || elapsed < millis)) {
                if (pairs % 2 == 0) {
                    originalTimes[pairs] = timedRun(original, originalTensors);
                    candidateTimes[pairs] = timedRun(candidate, candidateTensors);
                } else {
                    candidateTimes[pairs] = timedRun(candidate, candidateTensors);
                    originalTimes[pairs] = timedRun(original, originalTensors);
                }
                elapsed += originalTimes[pairs] + candidateTimes[pairs];
                pairs++;
            }
            return new double[] {median(Arrays.copyOf(originalTimes, pairs)), median(Arrays.copyOf(candidateTimes, pairs))};
        }
    }

    private static double timedRun(OnnxRuntimeSession session, Map<String, OnnxTensor> tensors) {
        long start = System.nanoTime();
        session.runDiscardingOutputs(tensors);
        return (System.nanoTime() - start) / 1e6;
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private Batches dataBatches(Dataset dataset) {
        List<ValueSpec> inputs = original.inputs();
        if (inputs.size() != 1) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "a data set feeds a model with one input, but this model has "
                    + inputs.size() + ": " + names(inputs) + "; evaluate it without data (generated inputs) instead");
        }
        ValueSpec input = inputs.get(0);
        NdArray values = dataset.inputs();
        long[] dataShape = values.shape();
        long[] sampleShape = Arrays.copyOfRange(dataShape, 1, dataShape.length);
        long[] target = sampleShapeFor(input, sampleShape);
        int sampleElements = Math.toIntExact(NdArray.elementCount(sampleShape));
        int count = Math.min(request.maxSamples(), dataset.size());
        if (count == 0) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the data set holds no samples");
        }
        boolean batched = target.length > 0 && isDynamicBatch(original) && isDynamicBatch(candidate);
        int perRun = batched ? batchSize : 1;
        long[] labels = dataset.labels().map(l -> Arrays.copyOf(l.toLongArray(), count)).orElse(null);
        return new Batches() {
            @Override
            public int sampleCount() {
                return count;
            }

            @Override
            public int batchCount() {
                return (count + perRun - 1) / perRun;
            }

            @Override
            public Batch batch(int index) {
                int first = index * perRun;
                int samples = Math.min(perRun, count - first);
                return feed(first, samples);
            }

            @Override
            public Batch single() {
                return feed(0, 1);
            }

            private Batch feed(int first, int samples) {
                long[] shape = target.clone();
                if (shape.length > 0) {
                    shape[0] = shape[0] * samples;
                }
                return new Batch(samples, List.of(new Feed(input.name(), values, first * sampleElements,
                        samples * sampleElements, shape)));
            }

            @Override
            public long[] labels() {
                return labels;
            }
        };
    }

    private static boolean isDynamicBatch(OnnxRuntimeSession session) {
        long[] shape = session.inputs().get(0).shape();
        return shape.length > 0 && shape[0] == -1;
    }

    /**
     * The shape one data sample takes as the model's input: the declared shape with a dynamic first dimension set
     * to 1 and other dynamic dimensions taken from the sample's shape; its element count must equal the sample's.
     */
    static long[] sampleShapeFor(ValueSpec input, long[] sampleShape) {
        long[] declared = input.shape();
        long[] target = declared.clone();
        if (target.length > 0 && target[0] == -1) {
            target[0] = 1;
        }
        for (int i = 1; i < target.length; i++) {
            if (target[i] != -1) {
                continue;
            }
            if (sampleShape.length == target.length - 1) {
                target[i] = sampleShape[i - 1];
            } else if (sampleShape.length == target.length) {
                target[i] = sampleShape[i];
            } else {
                throw new CondenseException(ErrorCode.INVALID_DATA, "data samples of shape " + Arrays.toString(sampleShape)
                        + " do not fit model input '" + input.name() + "' of shape " + Arrays.toString(declared)
                        + " (-1 = dynamic): the size of its dynamic dimension " + i + " cannot be told from the data; give "
                        + "samples of rank " + (declared.length - 1));
            }
        }
        long sampleElements = NdArray.elementCount(sampleShape);
        long inputElements = NdArray.elementCount(target);
        if (sampleElements != inputElements) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "data samples of shape " + Arrays.toString(sampleShape)
                    + " (" + sampleElements + " values each) do not fit model input '" + input.name() + "' of shape "
                    + Arrays.toString(declared) + " (-1 = dynamic; " + inputElements + " values per sample); give data of "
                    + "shape [N" + tail(target) + "] or any shape with the same number of values per sample");
        }
        return target;
    }

    private static String tail(long[] shape) {
        StringBuilder text = new StringBuilder();
        for (int i = 1; i < shape.length; i++) {
            text.append(", ").append(shape[i]);
        }
        return text.toString();
    }

    /**
     * Refuses, before anything is allocated, generated inputs this JVM cannot hold: the values of one sample of every
     * input, each kept as a Java array and again as an ONNX Runtime tensor, must fit in an eighth of the heap (the
     * rest is for the outputs, both sessions and the other jobs). A declared shape of more than 2^31 values per input is
     * refused whatever the heap.
     */
    static void checkGeneratedInputsFit(List<ValueSpec> inputs, long maxHeapBytes) {
        long budget = maxHeapBytes / 8;
        long total = 0;
        StringBuilder shapes = new StringBuilder();
        for (ValueSpec input : inputs) {
            long[] shape = input.shape();
            long values = 1;
            boolean overflow = false;
            for (long dimension : shape) {
                long size = dimension < 0 ? 1 : dimension;
                if (size != 0 && values > Long.MAX_VALUE / size) {
                    overflow = true;
                    break;
                }
                values *= size;
            }
            long bytes = overflow || values > Long.MAX_VALUE / 16 ? Long.MAX_VALUE : values * 2 * elementBytes(input.dataType());
            if (shapes.length() > 0) {
                shapes.append(", ");
            }
            shapes.append('\'').append(input.name()).append("' declares the shape ").append(Arrays.toString(shape));
            if (overflow || values > Integer.MAX_VALUE - 8) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the model's input '" + input.name() + "' declares the shape "
                        + Arrays.toString(shape) + (overflow ? " (more values than a 64-bit count holds)" : " (" + values + " values)")
                        + " for one sample: more than one array can hold (2^31 values), so it cannot be evaluated on generated "
                        + "inputs; give evaluation data of a smaller shape (if its dimensions are dynamic) or skip the evaluation "
                        + "(skip_evaluation, the command line's --no-evaluation)");
            }
            total = bytes > Long.MAX_VALUE - total ? Long.MAX_VALUE : total + bytes;
        }
        if (total > budget) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the model's inputs as declared (" + shapes + ") need "
                    + mebibytes(total) + " MiB for one generated sample (kept in Java and in ONNX Runtime), more than this worker "
                    + "gives an evaluation (" + mebibytes(budget) + " MiB, an eighth of its " + mebibytes(maxHeapBytes)
                    + " MiB heap); skip the evaluation (skip_evaluation, the command line's --no-evaluation) or run the worker "
                    + "with more memory (-Xmx)");
        }
    }

    private static long elementBytes(DataType type) {
        // generated values are kept as floats, or longs for integer inputs, before conversion to the input's type
        return type.isFloatingPoint() ? Float.BYTES : Long.BYTES;
    }

    private static long mebibytes(long bytes) {
        return bytes == Long.MAX_VALUE ? Long.MAX_VALUE / (1024 * 1024) : (bytes + 1024 * 1024 - 1) / (1024 * 1024);
    }

    private Batches generatedBatches() {
        List<ValueSpec> inputs = original.inputs();
        checkGeneratedInputsFit(inputs, Runtime.getRuntime().maxMemory());
        int count = request.maxSamples();
        long seed = request.seed();
        return new Batches() {
            @Override
            public int sampleCount() {
                return count;
            }

            @Override
            public int batchCount() {
                return count;
            }

            @Override
            public Batch batch(int index) {
                SplittableRandom random = new SplittableRandom(seed + index * 0x9E3779B97F4A7C15L);
                List<Feed> feeds = new ArrayList<>(inputs.size());
                for (ValueSpec input : inputs) {
                    long[] shape = input.shape();
                    for (int i = 0; i < shape.length; i++) {
                        if (shape[i] < 0) {
                            shape[i] = 1;
                        }
                    }
                    NdArray values = generate(input.dataType(), shape, random);
                    feeds.add(new Feed(input.name(), values, 0, values.size(), shape));
                }
                return new Batch(1, feeds);
            }

            @Override
            public Batch single() {
                return batch(0);
            }

            @Override
            public long[] labels() {
                return null;
            }
        };
    }

    /** Floating-point types: uniform in [0, 1); integer types: uniform integers in [0, 10). */
    static NdArray generate(DataType type, long[] shape, SplittableRandom random) {
        int count = Math.toIntExact(NdArray.elementCount(shape));
        if (type.isFloatingPoint()) {
            float[] values = new float[count];
            for (int i = 0; i < count; i++) {
                values[i] = (float) random.nextDouble();
            }
            return NdArray.ofFloats(shape, values);
        }
        long[] values = new long[count];
        for (int i = 0; i < count; i++) {
            values[i] = random.nextInt(GENERATED_INTEGER_BOUND);
        }
        return NdArray.ofLongs(shape, values);
    }

    /** Running sums over every output, agreement over the first output's rows, and accuracy against labels. */
    private static final class Metrics {
        private final List<ValueSpec> outputs;
        private final String firstOutput;
        private final long[] labels;
        private double signal;
        private double noise;
        private double dot;
        private double candidateEnergy;
        private long rows;
        private long agreeing;
        private long correctBefore;
        private long correctAfter;
        private long lost;
        private long gained;
        private long labelled;

        Metrics(List<ValueSpec> outputs, long[] labels) {
            this.outputs = outputs;
            this.firstOutput = outputs.get(0).name();
            this.labels = labels;
        }

        void add(int firstSample, int samples, Map<String, NdArray> reference, Map<String, NdArray> compressed) {
            for (ValueSpec output : outputs) {
                NdArray expected = reference.get(output.name());
                NdArray actual = compressed.get(output.name());
                if (actual == null) {
                    throw new CondenseException(ErrorCode.INVALID_MODEL, "the candidate model has no output '" + output.name()
                            + "' (or not as a tensor Condense reads) but the original has; a compressed model must keep "
                            + "every output");
                }
                if (expected.size() != actual.size()) {
                    throw new CondenseException(ErrorCode.INVALID_MODEL, "output '" + output.name() + "' has shape "
                            + Arrays.toString(expected.shape()) + " in the original but " + Arrays.toString(actual.shape())
                            + " in the candidate; a compressed model must keep its output shapes");
                }
                float[] ref = expected.toFloatArray();
                float[] cand = actual.toFloatArray();
                accumulate(ref, cand);
                if (output.name().equals(firstOutput)) {
                    agreement(expected.shape(), ref, cand);
                    if (labels != null) {
                        accuracy(expected, ref, cand, firstSample, samples);
                    }
                }
            }
        }

        private void accumulate(float[] ref, float[] cand) {
            double signalSum = 0;
            double noiseSum = 0;
            double dotSum = 0;
            double candidateSum = 0;
            for (int i = 0; i < ref.length; i++) {
                double r = ref[i];
                double c = cand[i];
                double d = r - c;
                signalSum += r * r;
                noiseSum += d * d;
                dotSum += r * c;
                candidateSum += c * c;
            }
            signal += signalSum;
            noise += noiseSum;
            dot += dotSum;
            candidateEnergy += candidateSum;
        }

        private void agreement(long[] shape, float[] ref, float[] cand) {
            int width = shape.length == 0 ? 1 : Math.toIntExact(shape[shape.length - 1]);
            if (width == 0) {
                return;
            }
            int rowCount = ref.length / width;
            for (int row = 0; row < rowCount; row++) {
                int start = row * width;
                if (argmax(ref, start, width) == argmax(cand, start, width)) {
                    agreeing++;
                }
            }
            rows += rowCount;
        }

        private void accuracy(NdArray expected, float[] ref, float[] cand, int firstSample, int samples) {
            if (ref.length % samples != 0 || ref.length == 0) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "accuracy needs the first output to hold one row "
                        + "of class scores per sample, but output '" + firstOutput + "' has shape "
                        + Arrays.toString(expected.shape()) + " for " + samples + " samples; evaluate without labels instead");
            }
            int width = ref.length / samples;
            for (int s = 0; s < samples; s++) {
                long label = labels[firstSample + s];
                boolean rightBefore = argmax(ref, s * width, width) == label;
                boolean rightAfter = argmax(cand, s * width, width) == label;
                if (rightBefore) {
                    correctBefore++;
                }
                if (rightAfter) {
                    correctAfter++;
                }
                if (rightBefore && !rightAfter) {
                    lost++;
                } else if (rightAfter && !rightBefore) {
                    gained++;
                }
                labelled++;
            }
        }

        static int argmax(float[] values, int start, int length) {
            int best = 0;
            float bestValue = values[start];
            for (int i = 1; i < length; i++) {
                float value = values[start + i];
                if (value > bestValue) {
                    bestValue = value;
                    best = i;
                }
            }
            return best;
        }

        EvaluationResult result(int samples, OptionalDouble latencyBefore, OptionalDouble latencyAfter) {
            double sqnr = noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
            double cosine;
            if (signal == 0 && candidateEnergy == 0) {
                cosine = 1;
            } else if (signal == 0 || candidateEnergy == 0) {
                cosine = 0;
            } else {
                cosine = dot / (Math.sqrt(signal) * Math.sqrt(candidateEnergy));
            }
            double agreement = rows == 0 ? Double.NaN : (double) agreeing / rows;
            OptionalDouble accuracyBefore = labelled == 0 ? OptionalDouble.empty() : OptionalDouble.of((double) correctBefore / labelled);
            OptionalDouble accuracyAfter = labelled == 0 ? OptionalDouble.empty() : OptionalDouble.of((double) correctAfter / labelled);
            OptionalLong samplesLost = labelled == 0 ? OptionalLong.empty() : OptionalLong.of(lost);
            OptionalLong samplesGained = labelled == 0 ? OptionalLong.empty() : OptionalLong.of(gained);
            return new EvaluationResult(samples, accuracyBefore, accuracyAfter, agreement, sqnr, cosine, latencyBefore,
                    latencyAfter, samplesLost, samplesGained);
        }
    }
}
