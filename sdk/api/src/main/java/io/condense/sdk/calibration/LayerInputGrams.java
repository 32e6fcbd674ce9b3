package io.condense.sdk.calibration;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.DataType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@link LayerInputGram}s of many weights' layer inputs, in memory bounded by a budget plus one Gram, whatever the
 * number of layers: what GPTQ and SparseGPT need on a model whose Grams do not all fit in memory (a 7B decoder has
 * 134 MB of doubles per K=4096 input and 970 MB per K=11008 input, several per block, 44 GB in all).
 *
 * <p>The model runs once over the calibration samples through the host's evaluator, with every distinct layer input
 * exposed. The Grams of the first distinct inputs (in the order of the weights given) are summed during that pass
 * while their total stays within the budget; every other input's activations are written, sample by sample, to a file
 * in the step's scratch folder (float32). {@link #inputsOf} then hands the weights their Grams in order: one kept from
 * the pass, or one summed from its memory-mapped file when first asked for; each Gram is dropped once every weight that
 * reads it has been served. Activations rather than Grams are spilled because a spilled input costs {@code tokens x K}
 * floats on disk and nothing in the heap, and a second pass of a multi-GB model per input would cost far more time.
 *
 * <p>Weights reading the same value through layers that read it alike (q, k and v; gate and up; one weight read by
 * several nodes) share one Gram. The memory bound holds when such weights are adjacent in the order given (graph order
 * in transformer exports); a Gram asked for again later stays in memory until its last weight.
 */
public final class LayerInputGrams implements AutoCloseable {
    /** System property: bytes of Grams summed during the calibration pass (the rest is spilled); default {@value #DEFAULT_MEMORY_BYTES}. */
    public static final String MEMORY_PROPERTY = "condense.calibration.gram.bytes";
    public static final long DEFAULT_MEMORY_BYTES = 1L << 30;

    private final List<Source> sources;
    private final List<List<Source>> weights;
    private final Map<String, Spill> spills;
    private final Path folder;
    private final Set<Integer> handed = new HashSet<>();

    private LayerInputGrams(List<Source> sources, List<List<Source>> weights, Map<String, Spill> spills, Path folder) {
        this.sources = sources;
        this.weights = weights;
        this.spills = spills;
        this.folder = folder;
    }

    /**
     * Runs the first {@code samples} samples of {@code data} through {@code model} once, with the Grams of the first
     * inputs summed up to the budget of {@link #MEMORY_PROPERTY} (1 GiB by default) and the other inputs spilled.
     *
     * @param weights per weight, the layers reading it (each a Conv, Gemm or MatMul {@link LayerInputGram#refusal} accepts)
     * @throws CondenseException as {@link LayerInputGram#accumulate}; RESOURCE_EXHAUSTED when the scratch folder has no room
     *         for the spilled activations
     */
    public static LayerInputGrams measure(OnnxModel model, List<List<WeightLayer>> weights, Dataset data, int samples,
            StepContext context, double progressFrom, double progressTo, String activity) {
        return measure(model, weights, data, samples, context, progressFrom, progressTo, activity, Long.getLong(MEMORY_PROPERTY,
                DEFAULT_MEMORY_BYTES));
    }

    /** As {@link #measure(OnnxModel, List, Dataset, int, StepContext, double, double, String)} with a budget in bytes (0: spill all). */
    public static LayerInputGrams measure(OnnxModel model, List<List<WeightLayer>> weights, Dataset data, int samples,
            StepContext context, double progressFrom, double progressTo, String activity, long memoryBytes) {
        requireNonNull(model, "model is null");
        requireNonNull(weights, "weights is null");
        requireNonNull(data, "data is null");
        requireNonNull(context, "context is null");
        Map<String, Source> byKey = new LinkedHashMap<>();
        List<List<Source>> perWeight = new ArrayList<>(weights.size());
        for (List<WeightLayer> layers : weights) {
            Set<Source> own = new LinkedHashSet<>();
            for (WeightLayer layer : layers) {
                long[] shape = model.tensor(layer.weightName()).shape();
                String refusal = LayerInputGram.refusal(layer, shape);
                if (refusal != null) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, refusal);
                }
                Source source = byKey.computeIfAbsent(key(layer, shape), key -> new Source(layer, shape));
                own.add(source);
            }
            own.forEach(source -> source.users++);
            perWeight.add(new ArrayList<>(own));
        }
        List<Source> sources = new ArrayList<>(byKey.values());
        long kept = 0;
        boolean spilling = false;
        for (Source source : sources) {
            long bytes = LayerInputGram.bytes(source.layer, source.shape);
            spilling |= kept + bytes > memoryBytes;
            if (!spilling) {
                kept += bytes;
                source.gram = LayerInputGram.of(source.layer, source.shape);
            }
        }
        Map<String, Spill> spills = new LinkedHashMap<>();
        Path folder = null;
        try {
            for (Source source : sources) {
                if (source.gram == null && !spills.containsKey(source.value)) {
                    if (folder == null) {
                        folder = Files.createTempDirectory(context.scratchDirectory(), "layer-inputs-");
                    }
                    spills.put(source.value, new Spill(folder.resolve("input-" + spills.size() + ".f32")));
                }
            }
            LayerInputGrams grams = new LayerInputGrams(sources, perWeight, spills, folder);
            try {
                grams.run(model, data, Math.min(samples, data.size()), context, progressFrom, progressTo, activity);
            } catch (RuntimeException e) {
                grams.close();
                throw e;
            }
            return grams;
        } catch (IOException e) {
            closeAll(spills.values(), folder);
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "cannot write the layer inputs of the calibration data to the "
                    + "scratch folder " + context.scratchDirectory() + ": " + e.getMessage(), e);
        }
    }

    private void run(OnnxModel model, Dataset data, int count, StepContext context, double progressFrom, double progressTo,
            String activity) throws IOException {
        Set<String> values = new LinkedHashSet<>();
        sources.forEach(source -> values.add(source.value));
        LayerInputGram.forEachSample(model, values, data, count, context, progressFrom, progressTo, activity, (sample, outputs) -> {
            for (Source source : sources) {
                if (source.gram != null) {
                    source.gram.add(LayerInputGram.exposed(outputs, source.value));
                }
            }
            for (Map.Entry<String, Spill> spill : spills.entrySet()) {
                spill.getValue().append(LayerInputGram.exposed(outputs, spill.getKey()));
            }
            if (sample == 0 && !spills.isEmpty()) {
                requireRoom(count, context);
            }
        });
    }

    /** After the first sample: refuses at once, rather than when the disk fills, when all samples' activations will not fit. */
    private void requireRoom(int count, StepContext context) throws IOException {
        long perSample = 0;
        for (Spill spill : spills.values()) {
            perSample += spill.bytes;
        }
        long needed = perSample * (count - 1);
        long usable = Files.getFileStore(folder).getUsableSpace();
        if (needed > usable) {
            long fitting = Math.max(1, usable / Math.max(1, perSample));
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the calibration pass writes the layer inputs that do not fit "
                    + "in memory to " + context.scratchDirectory() + ": " + (perSample >> 20) + " MiB per sample, "
                    + ((needed + perSample) >> 20) + " MiB for " + count + " samples, and only " + (usable >> 20) + " MiB are free: "
                    + "lower calibration_samples (about " + fitting + " fit) or shorten the samples, or give the server more scratch space");
        }
    }

    /** Distinct inputs spilled to files (0 when every Gram was summed in memory during the pass). */
    public int spilledInputs() {
        return spills.size();
    }

    /** Bytes of activations written to the scratch folder. */
    public long spilledBytes() {
        long bytes = 0;
        for (Spill spill : spills.values()) {
            bytes += spill.bytes;
        }
        return bytes;
    }

    /**
     * The distinct Grams of weight {@code weight}'s layer inputs (one for a weight whose layers all read one value alike),
     * summed from its spill file when not yet in memory. Grams no earlier weight still needs are dropped first, so the
     * caller must not keep those of earlier calls. The lists of consecutive weights sharing their inputs hold the same
     * objects.
     *
     * @throws CondenseException CANCELLED when the job is cancelled while a spilled input is read
     */
    public List<LayerInputGram> inputsOf(int weight, StepContext context) {
        List<Source> wanted = weights.get(weight);
        for (Source source : sources) {
            if (source.users == 0 && !wanted.contains(source)) {
                source.gram = null;
            }
        }
        List<LayerInputGram> grams = new ArrayList<>(wanted.size());
        for (Source source : wanted) {
            if (source.gram == null) {
                if (source.users == 0) {
                    throw new IllegalStateException("the inputs of weight " + weight + " were already handed out");
                }
                source.gram = LayerInputGram.of(source.layer, source.shape);
                spills.get(source.value).replay(source.gram, context);
            }
            grams.add(source.gram);
        }
        if (handed.add(weight)) {
            wanted.forEach(source -> source.users--);
        }
        return grams;
    }

    /** Whether weights {@code a} and {@code b} read the same inputs alike (so they share their Grams and what is built from them). */
    public boolean sameInputs(int a, int b) {
        return weights.get(a).equals(weights.get(b));
    }

    /**
     * Drops now every Gram whose weights have all been served, rather than at the next {@link #inputsOf}: a caller that has
     * built what it needs from them (a Hessian) and holds no reference to them frees their memory before its own work.
     */
    public void releaseServed() {
        for (Source source : sources) {
            if (source.users == 0) {
                source.gram = null;
            }
        }
    }

    /** Deletes the spill files. */
    @Override
    public void close() {
        sources.forEach(source -> source.gram = null);
        closeAll(spills.values(), folder);
    }

    private static void closeAll(Iterable<Spill> spills, Path folder) {
        for (Spill spill : spills) {
            spill.close();
        }
        if (folder != null) {
            try {
                Files.deleteIfExists(folder);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete " + folder, e);
            }
        }
    }

    /** Layers reading one value alike give the same Gram: the value, and for Conv the attributes and kernel that place the patches. */
    private static String key(WeightLayer layer, long[] shape) {
        String value = LayerInputGram.inputName(layer);
        return switch (layer.opType()) {
            case "Conv" -> "Conv|" + value + "|" + Arrays.toString(Arrays.copyOfRange(shape, 1, shape.length)) + "|"
                    + layer.node().getAttributeList();
            case "Gemm" -> "Gemm|" + value + "|" + NodeAttributes.getInt(layer.node(), "transA", 0) + "|"
                    + shape[layer.outputChannelAxis() == 0 ? 1 : 0];
            default -> "MatMul|" + value + "|" + layer.node().getInput(0).equals(layer.weightName()) + "|" + Arrays.toString(shape);
        };
    }

    /** One distinct Gram: the first layer that reads it, its Gram while in memory, and how many weights still need it. */
    private static final class Source {
        final WeightLayer layer;
        final long[] shape;
        final String value;
        LayerInputGram gram;
        int users;

        Source(WeightLayer layer, long[] shape) {
            this.layer = layer;
            this.shape = shape;
            this.value = LayerInputGram.inputName(layer);
        }
    }

    /** One value's activations, sample after sample, as float32 in a file; the shapes stay in memory. */
    private static final class Spill {
        final Path file;
        final FileChannel channel;
        final List<long[]> shapes = new ArrayList<>();
        final List<Long> offsets = new ArrayList<>();
        long bytes;

        Spill(Path file) throws IOException {
            this.file = file;
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
        }

        void append(NdArray activation) throws IOException {
            float[] values = activation.toFloatArray();
            ByteBuffer buffer = ByteBuffer.allocate(Math.multiplyExact(values.length, Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
            buffer.asFloatBuffer().put(values);
            offsets.add(bytes);
            shapes.add(activation.shape());
            long position = bytes;
            while (buffer.hasRemaining()) {
                position += channel.write(buffer, position);
            }
            bytes = position;
        }

        void replay(LayerInputGram gram, StepContext context) {
            try {
                for (int sample = 0; sample < shapes.size(); sample++) {
                    context.checkCancelled();
                    long offset = offsets.get(sample);
                    long length = (sample + 1 < offsets.size() ? offsets.get(sample + 1) : bytes) - offset;
                    ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, offset, length);
                    gram.add(NdArray.mapped(DataType.FLOAT, shapes.get(sample), mapped));
                }
            } catch (IOException e) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "cannot read back the layer inputs spilled to " + file + ": "
                        + e.getMessage(), e);
            }
        }

        void close() {
            try {
                channel.close();
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete " + file, e);
            }
        }
    }
}
