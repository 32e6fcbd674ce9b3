package io.condense.plugin.coding;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.coding.PackedFormat;
import io.condense.sdk.coding.PackedModel;
import io.condense.sdk.coding.PackedModelDecoder;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;

/**
 * The coding stage of Deep Compression: writes the model as a packed file ({@code .cpk}, {@code docs/FORMAT.md}).
 * Every initializer of a type the format codes (float32, float16, bfloat16, int8, uint8, int4, uint4; dense, or a
 * sparse initializer with int64 indices and no explicit zeros) becomes a TENSOR section when that is smaller than
 * keeping it in the graph; the graph and everything else travel as ONNX in the GRAPH section (zlib-deflated when
 * smaller). The step decodes its own file and checks every tensor is bit-identical to its input before it returns;
 * the model it returns is that decoded model. It is terminal: no step may follow it.
 */
@org.pf4j.Extension
public final class EncodeTechnique implements Technique {
    public static final String ID = "encode";
    static final String ENTROPY = "entropy";
    static final String MIN_ELEMENTS = "min_elements";
    static final String GRAPH_ZLIB = "graph_zlib";
    static final String GZIP_BASELINE = "gzip_baseline";

    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
            "Packed storage (.cpk): sparse weights as relative gap indices with filler entries or context-coded masks, "
                    + "shared values bit-packed, Huffman- or range-coded; the last step of a pipeline (condense decode turns it back into ONNX)", "coding",
            List.of(
                    ParameterSpec.choiceParameter(ENTROPY, "arithmetic", List.of("arithmetic", "huffman", "zstd", "none"),
                            "Entropy coding of the positions and values: arithmetic (the smallest of canonical Huffman and "
                                    + "the format's adaptive coding: sparse masks range-coded in context, value streams "
                                    + "range-coded bit by bit), huffman (canonical Huffman where it is smaller than the fixed "
                                    + "width: the paper's coding), zstd (byte-aligned symbols in one zstd frame, level 19, "
                                    + "where that is smaller; for comparison) or none (every stream bit-packed at its real width)."),
                    ParameterSpec.integerParameter(MIN_ELEMENTS, 16, Range.atLeast(1),
                            "Initializers with fewer elements stay in the graph section."),
                    ParameterSpec.booleanParameter(GRAPH_ZLIB, true,
                            "Deflate the graph section (zlib) when that makes it smaller."),
                    ParameterSpec.booleanParameter(GZIP_BASELINE, true,
                            "Report gzip -9 of the input ONNX beside the ratio (costs about as much CPU time as the encoding).")),
            true);

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        Entropy entropy = Entropy.of(parameters.getString(ENTROPY));
        long minElements = parameters.getLong(MIN_ELEMENTS);
        boolean graphZlib = parameters.getBoolean(GRAPH_ZLIB);
        ModelProto proto = model.proto();
        GraphProto graph = proto.getGraph();
        Map<String, String> codebooks = codebooks(model);
        List<PackedFileWriter.Section> sections = new ArrayList<>();
        sections.add(null); // the graph, written last
        GraphProto.Builder kept = graph.toBuilder().clearInitializer().clearSparseInitializer();
        Report.Builder report = Report.builder();
        long values = 0;
        long gaps = 0;
        long tables = 0;
        long gain = 0;
        long codebookBytes = 0;
        int coded = 0;
        int total = graph.getInitializerCount() + graph.getSparseInitializerCount();
        int done = 0;
        for (TensorProto tensor : graph.getInitializerList()) {
            context.checkCancelled();
            Optional<TensorCoder.Coded> result = codeDense(tensor, minElements, entropy, graphZlib);
            done++;
            if (result.isEmpty()) {
                kept.addInitializer(tensor);
                report.addLayer(inGraph(tensor.getName(), tensor.getSerializedSize()));
                continue;
            }
            TensorCoder.Coded c = result.get();
            sections.add(new PackedFileWriter.Section(PackedFormat.SECTION_TENSOR, 0, c.section()));
            Map<String, Object> layer = new LinkedHashMap<>(c.report());
            layer.put("stored", "section");
            layer.put("raw_bytes", Tensor.fromProto(tensor).byteSize());
            String codebook = codebooks.get(tensor.getName());
            if (codebook != null) {
                long bytes = model.initializer(codebook).map(t -> Tensor.fromProto(t).byteSize()).orElse(0L);
                layer.put("codebook", codebook);
                layer.put("codebook_bytes", bytes);
                codebookBytes += bytes;
            }
            report.addLayer(layer);
            values += c.valueBytes();
            gaps += c.gapBytes();
            tables += c.tableBytes();
            gain += c.huffmanGainBytes();
            coded++;
            context.progress((double) done / Math.max(1, total), "coded " + tensor.getName());
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            context.checkCancelled();
            Optional<TensorCoder.Coded> result = codeSparse(sparse, minElements, entropy, graphZlib);
            done++;
            if (result.isEmpty()) {
                kept.addSparseInitializer(sparse);
                report.addLayer(inGraph(sparse.getValues().getName(), sparse.getSerializedSize()));
                continue;
            }
            TensorCoder.Coded c = result.get();
            sections.add(new PackedFileWriter.Section(PackedFormat.SECTION_TENSOR, 0, c.section()));
            Map<String, Object> layer = new LinkedHashMap<>(c.report());
            layer.put("stored", "section");
            layer.put("raw_bytes", (long) sparse.getSerializedSize());
            report.addLayer(layer);
            values += c.valueBytes();
            gaps += c.gapBytes();
            tables += c.tableBytes();
            gain += c.huffmanGainBytes();
            coded++;
            context.progress((double) done / Math.max(1, total), "coded " + sparse.getValues().getName());
        }
        byte[] graphBytes = proto.toBuilder().setGraph(kept).build().toByteArray();
        int graphFlags = 0;
        byte[] graphSection = graphBytes;
        if (graphZlib) {
            byte[] deflated = zlib(graphBytes);
            if (deflated.length + 8 < graphBytes.length) {
                graphSection = new ByteSink().u64(graphBytes.length).bytes(deflated).toByteArray();
                graphFlags = PackedFormat.GRAPH_FLAG_ZLIB;
            }
        }
        sections.set(0, new PackedFileWriter.Section(PackedFormat.SECTION_GRAPH, graphFlags, graphSection));
        byte[] packed = PackedFileWriter.write(sections);
        OnnxModel decoded = OnnxModel.fromBytes(new PackedModelDecoder().decode(packed));
        verifyExact(model, decoded);

        byte[] original = model.toBytes();
        report.put("original_bytes", (long) original.length)
                .put("packed_bytes", (long) packed.length)
                .put("ratio", (double) original.length / packed.length);
        if (parameters.getBoolean(GZIP_BASELINE)) {
            long gzip = gzip(original).length;
            report.put("gzip_bytes", gzip).put("gzip_ratio", (double) original.length / gzip);
        }
        report.put("entropy", entropy.id())
                .put("tensors_coded", (long) coded)
                .put("tensors_in_graph", (long) (total - coded))
                .put("graph_bytes", (long) graphSection.length)
                .put("graph_zlib", graphFlags != 0)
                .put("value_bytes", values)
                .put("gap_bytes", gaps)
                .put("table_bytes", tables)
                .put("codebook_bytes", codebookBytes)
                .put("huffman_gain_bytes", gain)
                .put("format_overhead_bytes", (long) packed.length - graphSection.length - sectionPayloadBytes(sections))
                .put("decoded_exact", true);
        return new TechniqueResult(decoded, report.build(), Optional.of(PackedModel.of(packed)));
    }

    /** The report entry of an initializer left in the graph section: its type or size is not worth a section. */
    private static Map<String, Object> inGraph(String name, long bytes) {
        Map<String, Object> layer = new LinkedHashMap<>();
        layer.put("name", name);
        layer.put("stored", "graph");
        layer.put("graph_bytes", bytes);
        return layer;
    }

    private static long sectionPayloadBytes(List<PackedFileWriter.Section> sections) {
        long bytes = 0;
        for (int i = 1; i < sections.size(); i++) {
            bytes += sections.get(i).bytes().length;
        }
        return bytes;
    }

    private static Optional<TensorCoder.Coded> codeDense(TensorProto tensor, long minElements, Entropy entropy, boolean graphZlib) {
        if (PackedFormat.elementBits(tensor.getDataType()) == 0 || tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL
                || tensor.getName().isEmpty()) {
            return Optional.empty();
        }
        Tensor view = Tensor.fromProto(tensor);
        if (view.elementCount() < minElements) {
            return Optional.empty();
        }
        int[] patterns = patterns(view);
        TensorCoder.Coded coded = TensorCoder.code(new TensorCoder.Input(tensor.getName(), PackedFormat.TARGET_INITIALIZER,
                tensor.getDataType(), view.shape(), patterns, null, 0), entropy);
        // measured: a section (and its table entry) must cost less than the tensor in the graph (deflated, when the graph is)
        return coded.section().length + PackedFormat.SECTION_ENTRY_BYTES < graphCost(tensor, coded.section().length, graphZlib)
                ? Optional.of(coded) : Optional.empty();
    }

    private static Optional<TensorCoder.Coded> codeSparse(SparseTensorProto sparse, long minElements, Entropy entropy, boolean graphZlib) {
        TensorProto values = sparse.getValues();
        TensorProto indices = sparse.getIndices();
        if (PackedFormat.elementBits(values.getDataType()) == 0 || values.getName().isEmpty() || indices.getName().isEmpty()
                || indices.getDataType() != TensorProto.DataType.INT64_VALUE || values.getDimsCount() != 1
                || (indices.getDimsCount() != 1 && indices.getDimsCount() != 2)
                || (indices.getDimsCount() == 2 && indices.getDims(1) != sparse.getDimsCount())) {
            return Optional.empty();
        }
        Tensor dense;
        try {
            dense = Tensor.fromSparseProto(sparse);
        } catch (CondenseException e) {
            return Optional.empty();
        }
        if (dense.elementCount() < minElements) {
            return Optional.empty();
        }
        int[] patterns = patterns(dense);
        long nonZero = 0;
        for (int p : patterns) {
            if (p != 0) {
                nonZero++;
            }
        }
        long stored = values.getDims(0);
        // the decoder lists the non-zero elements in row-major order: only a sparse tensor that is exactly that comes back identical
        if (nonZero != stored || !ascending(Tensor.fromProto(indices).toLongArray(), sparse, indices.getDimsCount() == 2)) {
            return Optional.empty();
        }
        TensorCoder.Coded coded = TensorCoder.code(new TensorCoder.Input(values.getName(), PackedFormat.TARGET_SPARSE_INITIALIZER,
                values.getDataType(), dense.shape(), patterns, indices.getName(),
                indices.getDimsCount() == 1 ? PackedFormat.SPARSE_INDICES_LINEAR : PackedFormat.SPARSE_INDICES_COORDINATES), entropy);
        return coded.section().length + PackedFormat.SECTION_ENTRY_BYTES < graphCost(sparse, coded.section().length, graphZlib)
                ? Optional.of(coded) : Optional.empty();
    }

    /**
     * What a tensor costs in the graph section: its bytes, or (an estimate) those bytes deflated alone when the graph is
     * deflated. Deflating is as slow as gzip -9, so it is done only when the section saves less than 8x: a section 8x
     * smaller than the raw tensor is kept without asking.
     */
    private static long graphCost(com.google.protobuf.MessageLite tensor, long sectionBytes, boolean graphZlib) {
        long raw = tensor.getSerializedSize();
        if (!graphZlib || sectionBytes * 8 < raw) {
            return raw;
        }
        return Math.min(raw, zlib(tensor.toByteArray()).length);
    }

    private static boolean ascending(long[] indices, SparseTensorProto sparse, boolean coordinates) {
        int rank = sparse.getDimsCount();
        long previous = -1;
        int entries = coordinates ? indices.length / Math.max(1, rank) : indices.length;
        for (int i = 0; i < entries; i++) {
            long linear;
            if (coordinates) {
                linear = 0;
                for (int axis = 0; axis < rank; axis++) {
                    linear = linear * sparse.getDims(axis) + indices[i * rank + axis];
                }
            } else {
                linear = indices[i];
            }
            if (linear <= previous) {
                return false;
            }
            previous = linear;
        }
        return true;
    }

    /** The element bit patterns of a tensor, one int each (4-bit types: the nibble, low first). */
    static int[] patterns(Tensor tensor) {
        int bits = PackedFormat.elementBits(tensor.dataType().onnxCode());
        int count = (int) tensor.elementCount();
        ByteBuffer raw = tensor.raw().order(ByteOrder.LITTLE_ENDIAN);
        int[] patterns = new int[count];
        switch (bits) {
            case 4 -> {
                for (int i = 0; i < count; i++) {
                    patterns[i] = (raw.get(i >> 1) >>> ((i & 1) * 4)) & 0x0F;
                }
            }
            case 8 -> {
                for (int i = 0; i < count; i++) {
                    patterns[i] = raw.get(i) & 0xFF;
                }
            }
            case 16 -> {
                for (int i = 0; i < count; i++) {
                    patterns[i] = raw.getShort(2 * i) & 0xFFFF;
                }
            }
            default -> {
                for (int i = 0; i < count; i++) {
                    patterns[i] = raw.getInt(4 * i);
                }
            }
        }
        return patterns;
    }

    /**
     * Index initializers read by a Gather from a codebook initializer: index name -> codebook name. Either may be read
     * through a Cast (the indices to int32; the codebook from float16, {@code quantize(dtype=fp16, scope=initializers)}).
     */
    private static Map<String, String> codebooks(OnnxModel model) {
        Map<String, String> codebooks = new HashMap<>();
        for (NodeProto node : model.nodes()) {
            if (!"Gather".equals(node.getOpType()) || node.getInputCount() < 2) {
                continue;
            }
            Optional<String> codebook = initializerBehindCast(model, node.getInput(0));
            Optional<String> indices = initializerBehindCast(model, node.getInput(1));
            if (codebook.isEmpty() || indices.isEmpty()) {
                continue;
            }
            codebooks.put(indices.get(), codebook.get());
        }
        return codebooks;
    }

    /** The initializer a value is, or the one a Cast reads to produce it; empty otherwise. */
    private static Optional<String> initializerBehindCast(OnnxModel model, String value) {
        if (model.isInitializer(value)) {
            return Optional.of(value);
        }
        return model.producer(value).filter(producer -> "Cast".equals(producer.getOpType()) && model.isInitializer(producer.getInput(0)))
                .map(producer -> producer.getInput(0));
    }

    /** Every initializer of the decoded model must be bit-identical to the input's; anything else is a bug here. */
    private static void verifyExact(OnnxModel input, OnnxModel decoded) {
        for (TensorProto tensor : input.graph().getInitializerList()) {
            Optional<TensorProto> other = decoded.initializer(tensor.getName());
            if (other.isEmpty() || !Tensor.fromProto(tensor).raw().equals(Tensor.fromProto(other.get()).raw())
                    || tensor.getDataType() != other.get().getDataType() || !tensor.getDimsList().equals(other.get().getDimsList())) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "encode: initializer '" + tensor.getName()
                        + "' does not decode bit-identically; the packed file was not written");
            }
        }
        for (SparseTensorProto sparse : input.graph().getSparseInitializerList()) {
            Optional<SparseTensorProto> other = decoded.sparseInitializer(sparse.getValues().getName());
            if (other.isEmpty() || !Tensor.fromSparseProto(sparse).raw().equals(Tensor.fromSparseProto(other.get()).raw())
                    || !sparse.getDimsList().equals(other.get().getDimsList())) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "encode: sparse initializer '" + sparse.getValues().getName()
                        + "' does not decode bit-identically; the packed file was not written");
            }
        }
        if (input.graph().getInitializerCount() != decoded.graph().getInitializerCount()
                || input.graph().getSparseInitializerCount() != decoded.graph().getSparseInitializerCount()
                || input.graph().getNodeCount() != decoded.graph().getNodeCount()) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "encode: the decoded model does not have the input's initializers and nodes");
        }
    }

    private static byte[] zlib(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION);
        try (DeflaterOutputStream stream = new DeflaterOutputStream(out, deflater)) {
            stream.write(bytes);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } finally {
            deflater.end();
        }
        return out.toByteArray();
    }

    /** gzip -9 of the input ONNX bytes: the baseline the report prints beside the ratio. */
    static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream stream = new GZIPOutputStream(out, 1 << 16) {
            {
                def.setLevel(Deflater.BEST_COMPRESSION);
            }
        }) {
            stream.write(bytes);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }
}
