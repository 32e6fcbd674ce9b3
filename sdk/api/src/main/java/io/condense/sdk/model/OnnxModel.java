package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.CodedInputStream;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.LargeTensor;
import io.condense.sdk.tensor.OnnxTypes;
import io.condense.sdk.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * An immutable ONNX model: the model IR every technique works on.
 *
 * <p>All tensor data is held as raw bytes in the proto; external data (from files confined to the model's folder) is
 * memory-mapped at load time, tensor by tensor, so a model over 2 GiB loads without its tensors in the heap, and is
 * saved with external data. Changes go through {@link #edit()}, which returns a new model.
 *
 * <p>Every model is validated when it is made: it has a graph, an IR version, an opset import and graph
 * outputs; every node input is defined; every initializer's bytes agree with its declared type and shape.
 */
public final class OnnxModel {
    /** Protobuf messages cannot exceed 2 GiB; leave room for everything that is not tensor data. */
    static final long MAX_SERIALIZED_BYTES = Integer.MAX_VALUE;
    /** Tensors of at least this many bytes go to the data file when a model over 2 GiB is saved. */
    public static final long LARGE_MODEL_THRESHOLD = 1024;

    private final ModelProto proto;
    private volatile Index index;

    private OnnxModel(ModelProto proto) {
        this.proto = proto;
    }

    /** Loads a model file; external data is resolved relative to the file's folder and must stay inside it. */
    public static OnnxModel load(Path file) {
        requireNonNull(file, "file is null");
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new CondenseException(ErrorCode.NOT_FOUND, "model file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "cannot read model file " + file + ": " + e.getMessage(), e);
        }
        if (size > MAX_SERIALIZED_BYTES) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "model file " + file + " is " + size
                    + " bytes; an ONNX protobuf file cannot exceed 2 GiB: keep large tensors as external data");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "cannot read model file " + file + ": " + e.getMessage(), e);
        }
        ModelProto parsed = parse(bytes, true);
        ModelProto inline = ExternalData.readIn(parsed, file);
        return validated(inline);
    }

    /** Parses model bytes (copying them); a model that refers to external data is refused (load it from a file instead). */
    public static OnnxModel fromBytes(byte[] bytes) {
        requireNonNull(bytes, "bytes is null");
        return of(parse(bytes, false));
    }

    /** Wraps a proto (validating it as {@link #fromBytes} does). */
    public static OnnxModel of(ModelProto proto) {
        requireNonNull(proto, "proto is null");
        ExternalData.refuseExternal(proto);
        return validated(proto);
    }

    static ModelProto parse(byte[] bytes, boolean alias) {
        if (bytes.length == 0) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "not an ONNX model: the input is empty");
        }
        try {
            CodedInputStream input = CodedInputStream.newInstance(bytes);
            input.setRecursionLimit(1000);
            // when the array is private to the loader, tensor bytes share it instead of being copied
            input.enableAliasing(alias);
            ModelProto model = ModelProto.parseFrom(input);
            input.checkLastTagWas(0);
            return model;
        } catch (IOException e) {
            String message = String.valueOf(e.getMessage());
            if (message.contains("ended unexpectedly") || message.contains("truncated")) {
                throw new CondenseException(ErrorCode.TRUNCATED_MODEL, "the model ends early (truncated upload or file?): " + message, e);
            }
            throw new CondenseException(ErrorCode.INVALID_MODEL, "not an ONNX model: " + message, e);
        }
    }

    private static OnnxModel validated(ModelProto proto) {
        if (!proto.hasGraph()) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "not an ONNX model: it has no graph");
        }
        if (proto.getIrVersion() <= 0) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "not an ONNX model: it has no IR version (ir_version is "
                    + proto.getIrVersion() + ")");
        }
        if (proto.getOpsetImportCount() == 0) {
            // exporters write opset_import after the graph, so a file cut inside the graph loses it
            throw new CondenseException(ErrorCode.TRUNCATED_MODEL, "the model ends early (truncated upload or file?): it has no "
                    + "opset import; an ONNX model must say which operator set versions it uses");
        }
        GraphProto graph = proto.getGraph();
        if (graph.getOutputCount() == 0) {
            throw new CondenseException(ErrorCode.TRUNCATED_MODEL, "the model ends early (truncated upload or file?): its graph "
                    + "has no outputs");
        }
        // no limit on the total: a model over 2 GiB holds its large tensors memory-mapped and is saved with external data
        for (TensorProto tensor : graph.getInitializerList()) {
            OnnxTypes.checkDataSize(tensor);
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            checkSparse(sparse);
        }
        checkNodeInputs(graph);
        return new OnnxModel(proto);
    }

    private static void checkSparse(SparseTensorProto sparse) {
        TensorProto values = sparse.getValues();
        OnnxTypes.checkDataSize(values);
        if (sparse.hasIndices()) {
            OnnxTypes.checkDataSize(sparse.getIndices());
        }
        long nonZeros = values.getDimsCount() == 1 ? values.getDims(0) : -1;
        if (nonZeros < 0) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "sparse initializer '" + values.getName()
                    + "' has values that are not 1-D; ONNX requires values of shape [NNZ]");
        }
        long indexElements = 1;
        for (long dim : sparse.getIndices().getDimsList()) {
            indexElements *= dim;
        }
        if (nonZeros > 0 && indexElements != nonZeros && indexElements != nonZeros * sparse.getDimsCount()) {
            throw new CondenseException(ErrorCode.TENSOR_SIZE_MISMATCH, "sparse initializer '" + values.getName() + "' has "
                    + nonZeros + " values but " + indexElements + " indices; ONNX requires NNZ linear indices or NNZ x rank coordinates");
        }
    }

    private static void checkNodeInputs(GraphProto graph) {
        List<String> problems = GraphCheck.undefinedNames(graph);
        if (!problems.isEmpty()) {
            throw GraphCheck.invalid(problems);
        }
    }

    static String nodeLabel(NodeProto node) {
        String name = node.getName().isEmpty() ? (node.getOutputCount() > 0 ? node.getOutput(0) : "?") : node.getName();
        return name + "' (" + node.getOpType();
    }

    public ModelProto proto() {
        return proto;
    }

    public GraphProto graph() {
        return proto.getGraph();
    }

    /** The serialized size in bytes with every tensor inline (may exceed 2 GiB), computed without serializing. */
    public long serializedSize() {
        long tensorBytes = tensorBytes(proto);
        if (tensorBytes <= MAX_SERIALIZED_BYTES / 2) {
            return proto.getSerializedSize();
        }
        // protobuf sizes are ints: count the graph without its initializers, then each initializer with its field tag and length
        GraphProto graph = proto.getGraph();
        GraphProto bare = graph.toBuilder().clearInitializer().clearSparseInitializer().build();
        long size = proto.toBuilder().setGraph(bare).build().getSerializedSize() + 10;
        for (TensorProto tensor : graph.getInitializerList()) {
            size += tensor.getSerializedSize() + LargeTensor.declaredBytes(tensor) + 6;
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            size += sparse.getSerializedSize() + 6;
        }
        return size;
    }

    /** Whether the model fits one protobuf message (2 GiB); a larger one is saved with external data. */
    public boolean fitsInline() {
        return tensorBytes(proto) <= MAX_SERIALIZED_BYTES - 64L * 1024 * 1024;
    }

    private static long tensorBytes(ModelProto model) {
        long tensorBytes = 0;
        for (TensorProto tensor : model.getGraph().getInitializerList()) {
            // a tensor over 2 GiB stays in its file (LargeTensor): its bytes count as if inline
            tensorBytes += tensor.getSerializedSize() + LargeTensor.declaredBytes(tensor);
        }
        for (SparseTensorProto sparse : model.getGraph().getSparseInitializerList()) {
            tensorBytes += sparse.getSerializedSize();
        }
        return tensorBytes;
    }

    /** Writes the model with every tensor inline to {@code out} (the bytes of {@link #toBytes()}, without an array of them). */
    public void writeTo(java.io.OutputStream out) throws java.io.IOException {
        requireNonNull(out, "out is null");
        checkSerializable(proto);
        proto.writeTo(out);
    }

    /** The model with every tensor inline. */
    public byte[] toBytes() {
        checkSerializable(proto);
        return proto.toByteArray();
    }

    /**
     * Writes the model inline, or, when it does not fit one protobuf message (over 2 GiB of tensors), with every
     * initializer of at least {@value #LARGE_MODEL_THRESHOLD} bytes in {@code <file name>.data} beside it (see
     * {@link #save(Path, long)}).
     */
    public void save(Path file) {
        requireNonNull(file, "file is null");
        if (!fitsInline()) {
            save(file, LARGE_MODEL_THRESHOLD);
            return;
        }
        checkSerializable(proto);
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try (var out = Files.newOutputStream(file)) {
                proto.writeTo(out);
            }
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "cannot write model file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes the model, moving every dense initializer whose data is at least {@code thresholdBytes} to
     * {@code <file name>.data} beside it (relative location, each tensor at an offset aligned to 4096).
     * Sparse initializers stay inline. When no tensor qualifies only the model file is written.
     */
    public void save(Path file, long thresholdBytes) {
        requireNonNull(file, "file is null");
        if (thresholdBytes < 0) {
            throw new IllegalArgumentException("thresholdBytes must be >= 0, got " + thresholdBytes);
        }
        ExternalData.save(proto, file, thresholdBytes);
    }

    static void checkSerializable(ModelProto model) {
        long tensorBytes = tensorBytes(model);
        if (tensorBytes > MAX_SERIALIZED_BYTES || model.getSerializedSize() < 0) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the model's tensors take " + tensorBytes
                    + " bytes; an ONNX protobuf message cannot exceed 2 GiB: save it with external data (save(file, threshold))");
        }
    }

    /**
     * An initializer over 2 GiB, which {@link #load} leaves in its data file (read it piece by piece; {@link #tensor}
     * refuses it); empty for any other name.
     */
    public Optional<LargeTensor> largeTensor(String name) {
        return initializer(name).filter(LargeTensor::isLarge).map(LargeTensor::of);
    }

    /** The opset version imported for a domain ("" or "ai.onnx" is the default domain); empty when not imported. */
    public Optional<Long> opsetVersion(String domain) {
        requireNonNull(domain, "domain is null");
        String wanted = normalizeDomain(domain);
        for (OperatorSetIdProto opset : proto.getOpsetImportList()) {
            if (normalizeDomain(opset.getDomain()).equals(wanted)) {
                return Optional.of(opset.getVersion());
            }
        }
        return Optional.empty();
    }

    static String normalizeDomain(String domain) {
        return "ai.onnx".equals(domain) ? "" : domain;
    }

    /** The graph's real inputs: graph inputs that are not also initializers (old exports list those too). */
    public List<ValueInfoProto> inputs() {
        return index().inputs;
    }

    public List<ValueInfoProto> outputs() {
        return proto.getGraph().getOutputList();
    }

    /**
     * Dense and sparse initializers of the element types Condense can view (see {@link DataType}), in
     * graph order (dense first). Initializers of other types (double, bool, string...) are kept in the
     * model but not listed; read them from {@link #graph()}.
     */
    public List<InitializerInfo> initializers() {
        return index().initializerInfos;
    }

    /** The dense initializer of that name (sparse ones: see {@link #sparseInitializer}). */
    public Optional<TensorProto> initializer(String name) {
        return Optional.ofNullable(index().dense.get(name));
    }

    public Optional<SparseTensorProto> sparseInitializer(String name) {
        return Optional.ofNullable(index().sparse.get(name));
    }

    /** Whether a value is a dense or sparse initializer. */
    public boolean isInitializer(String name) {
        Index current = index();
        return current.dense.containsKey(name) || current.sparse.containsKey(name);
    }

    /** A typed view of an initializer (sparse ones densified); throws IllegalArgumentException when absent. */
    public Tensor tensor(String name) {
        requireNonNull(name, "name is null");
        Index current = index();
        TensorProto dense = current.dense.get(name);
        if (dense != null) {
            return Tensor.fromProto(dense);
        }
        SparseTensorProto sparse = current.sparse.get(name);
        if (sparse != null) {
            return Tensor.fromSparseProto(sparse);
        }
        throw new IllegalArgumentException("the model has no initializer named '" + name + "'");
    }

    /** The node that produces a value, if any (graph inputs and initializers have none). */
    public Optional<NodeProto> producer(String valueName) {
        Integer position = index().producers.get(valueName);
        return position == null ? Optional.empty() : Optional.of(proto.getGraph().getNode(position));
    }

    /** The index in the graph of the node that produces a value, or -1. */
    public int producerIndex(String valueName) {
        Integer position = index().producers.get(valueName);
        return position == null ? -1 : position;
    }

    /** The nodes that read a value, in graph order (a node reading it twice is listed once). */
    public List<NodeProto> consumers(String valueName) {
        List<Integer> positions = index().consumers.getOrDefault(valueName, List.of());
        List<NodeProto> nodes = new ArrayList<>(positions.size());
        for (int position : positions) {
            nodes.add(proto.getGraph().getNode(position));
        }
        return Collections.unmodifiableList(nodes);
    }

    /** The indices of the nodes that read a value, in graph order. */
    public List<Integer> consumerIndices(String valueName) {
        return index().consumers.getOrDefault(valueName, List.of());
    }

    public List<NodeProto> nodes() {
        return proto.getGraph().getNodeList();
    }

    /**
     * Conv, ConvTranspose, Gemm and MatMul nodes whose weight is an initializer, with the axis of their output channels.
     * Conv: weight input 1 (axis 0 out, 1 in), bias input 2. ConvTranspose: weight [C_in, C_out / group, k...] (axis 1
     * out, 0 in), bias input 2. Gemm: B input 1, C input 2, out axis 0 with transB=1 else 1. MatMul with an initializer
     * of rank r >= 2 as second operand: out axis r-1, in axis r-2 (r > 2: a batch of matrices); with one as first operand
     * (Y = W X): out axis r-2 (rows of W give rows of Y), in axis r-1. Nodes whose weight is computed (not an
     * initializer) are skipped: call {@code edit().foldConstants()} first for weights written as Constant nodes, and see
     * {@link LayerSelection#unhandled(OnnxModel)} for the layers with weights no technique reads.
     */
    public List<WeightLayer> weightLayers() {
        return index().weightLayers(this);
    }

    /** Starts an edit; {@link ModelEditor#build()} gives the new model. */
    public ModelEditor edit() {
        return new ModelEditor(this);
    }

    @Override
    public String toString() {
        return "OnnxModel[" + proto.getGraph().getName() + ", " + proto.getGraph().getNodeCount() + " nodes, "
                + proto.getGraph().getInitializerCount() + " initializers]";
    }

    private Index index() {
        Index current = index;
        if (current == null) {
            current = new Index(proto.getGraph());
            index = current;
        }
        return current;
    }

    /** Lookups built once per model, on first use. */
    private static final class Index {
        final Map<String, TensorProto> dense = new LinkedHashMap<>();
        final Map<String, SparseTensorProto> sparse = new LinkedHashMap<>();
        final Map<String, Integer> producers = new HashMap<>();
        final Map<String, List<Integer>> consumers;
        final List<ValueInfoProto> inputs;
        final List<InitializerInfo> initializerInfos;
        private volatile List<WeightLayer> weightLayers;

        Index(GraphProto graph) {
            for (TensorProto tensor : graph.getInitializerList()) {
                dense.put(tensor.getName(), tensor);
            }
            for (SparseTensorProto tensor : graph.getSparseInitializerList()) {
                sparse.put(tensor.getValues().getName(), tensor);
            }
            Map<String, List<Integer>> readers = new HashMap<>();
            for (int i = 0; i < graph.getNodeCount(); i++) {
                NodeProto node = graph.getNode(i);
                for (String output : node.getOutputList()) {
                    if (!output.isEmpty()) {
                        producers.putIfAbsent(output, i);
                    }
                }
                Set<String> seen = new HashSet<>();
                for (String input : node.getInputList()) {
                    if (!input.isEmpty() && seen.add(input)) {
                        readers.computeIfAbsent(input, k -> new ArrayList<>()).add(i);
                    }
                }
                for (AttributeProto attribute : node.getAttributeList()) {
                    for (String outer : GraphNames.outerReferences(attribute)) {
                        if (seen.add(outer)) {
                            readers.computeIfAbsent(outer, k -> new ArrayList<>()).add(i);
                        }
                    }
                }
            }
            Map<String, List<Integer>> frozen = new HashMap<>();
            readers.forEach((name, list) -> frozen.put(name, List.copyOf(list)));
            consumers = frozen;
            List<ValueInfoProto> realInputs = new ArrayList<>();
            for (ValueInfoProto input : graph.getInputList()) {
                if (!dense.containsKey(input.getName()) && !sparse.containsKey(input.getName())) {
                    realInputs.add(input);
                }
            }
            inputs = List.copyOf(realInputs);
            List<InitializerInfo> infos = new ArrayList<>();
            for (TensorProto tensor : dense.values()) {
                if (DataType.isSupported(tensor.getDataType())) {
                    long[] shape = dims(tensor.getDimsList());
                    long elements = OnnxTypes.elementCount(tensor.getName(), shape);
                    DataType type = DataType.fromOnnx(tensor.getDataType());
                    infos.add(new InitializerInfo(tensor.getName(), type, shape, elements, type.byteSize(elements), false));
                }
            }
            for (SparseTensorProto tensor : sparse.values()) {
                TensorProto values = tensor.getValues();
                if (DataType.isSupported(values.getDataType())) {
                    long[] shape = dims(tensor.getDimsList());
                    long elements = OnnxTypes.elementCount(values.getName(), shape);
                    DataType type = DataType.fromOnnx(values.getDataType());
                    long nonZeros = values.getDimsCount() == 1 ? values.getDims(0) : 0;
                    long indexElements = 1;
                    for (long dim : tensor.getIndices().getDimsList()) {
                        indexElements *= dim;
                    }
                    long indexBytes = indexElements * (tensor.getIndices().getDataType() == TensorProto.DataType.INT32_VALUE ? 4 : 8);
                    infos.add(new InitializerInfo(values.getName(), type, shape, elements, type.byteSize(nonZeros) + indexBytes, true));
                }
            }
            initializerInfos = List.copyOf(infos);
        }

        List<WeightLayer> weightLayers(OnnxModel model) {
            List<WeightLayer> layers = weightLayers;
            if (layers == null) {
                layers = List.copyOf(WeightLayers.find(model.graph(), name -> dense.containsKey(name) || sparse.containsKey(name),
                        name -> {
                            TensorProto tensor = dense.get(name);
                            if (tensor != null) {
                                return tensor.getDimsCount();
                            }
                            SparseTensorProto sparseTensor = sparse.get(name);
                            return sparseTensor == null ? -1 : sparseTensor.getDimsCount();
                        }));
                weightLayers = layers;
            }
            return layers;
        }

        private static long[] dims(List<Long> list) {
            long[] shape = new long[list.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = list.get(i);
            }
            return shape;
        }
    }
}
