package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * An immutable ONNX model: the model IR every technique works on.
 *
 * <p>All tensor data is held inline (external data is read in at load time, from files confined to the
 * model's folder). Changes go through {@link #edit()}, which returns a new model.
 */
public final class OnnxModel {
    // API skeleton: implemented in the SDK core work (see sdk/README.md).
    private OnnxModel() {
        throw new UnsupportedOperationException();
    }

    /** Loads a model file; external data is resolved relative to the file's folder and must stay inside it. */
    public static OnnxModel load(Path file) {
        throw new UnsupportedOperationException();
    }

    /** Parses model bytes; a model that refers to external data is refused (load it from a file instead). */
    public static OnnxModel fromBytes(byte[] bytes) {
        throw new UnsupportedOperationException();
    }

    /** Wraps a proto (validating it as {@link #fromBytes} does). */
    public static OnnxModel of(ModelProto proto) {
        throw new UnsupportedOperationException();
    }

    public ModelProto proto() {
        throw new UnsupportedOperationException();
    }

    public GraphProto graph() {
        throw new UnsupportedOperationException();
    }

    /** The model with every tensor inline. */
    public byte[] toBytes() {
        throw new UnsupportedOperationException();
    }

    /** Writes the model inline. */
    public void save(Path file) {
        throw new UnsupportedOperationException();
    }

    /** Writes the model, moving every initializer of at least {@code thresholdBytes} to {@code <file name>.data} beside it. */
    public void save(Path file, long thresholdBytes) {
        throw new UnsupportedOperationException();
    }

    /** The opset version imported for a domain ("" or "ai.onnx" is the default domain); empty when not imported. */
    public Optional<Long> opsetVersion(String domain) {
        throw new UnsupportedOperationException();
    }

    /** The graph's real inputs: graph inputs that are not also initializers (old exports list those too). */
    public List<ValueInfoProto> inputs() {
        throw new UnsupportedOperationException();
    }

    public List<ValueInfoProto> outputs() {
        throw new UnsupportedOperationException();
    }

    public List<InitializerInfo> initializers() {
        throw new UnsupportedOperationException();
    }

    public Optional<TensorProto> initializer(String name) {
        throw new UnsupportedOperationException();
    }

    /** A typed view of an initializer; throws NOT_FOUND-like IllegalArgumentException when absent. */
    public Tensor tensor(String name) {
        throw new UnsupportedOperationException();
    }

    /** The node that produces a value, if any (graph inputs and initializers have none). */
    public Optional<NodeProto> producer(String valueName) {
        throw new UnsupportedOperationException();
    }

    /** The nodes that read a value, in graph order. */
    public List<NodeProto> consumers(String valueName) {
        throw new UnsupportedOperationException();
    }

    /** Conv, Gemm and MatMul nodes whose weight is an initializer, with the axis of their output channels. */
    public List<WeightLayer> weightLayers() {
        throw new UnsupportedOperationException();
    }

    /** Starts an edit; {@link ModelEditor#build()} gives the new model. */
    public ModelEditor edit() {
        throw new UnsupportedOperationException();
    }
}
