package io.condense.sdk;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Builders for small test models and a way to run models in ONNX Runtime. */
public final class Onnx {
    private Onnx() {
    }

    public static ValueInfoProto value(String name, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long dim : dims) {
            shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
        }
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape)))
                .build();
    }

    public static NodeProto node(String op, List<String> inputs, List<String> outputs, AttributeProto... attributes) {
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setName(op + "_" + outputs.get(0))
                .addAllInput(inputs).addAllOutput(outputs);
        for (AttributeProto attribute : attributes) {
            node.addAttribute(attribute);
        }
        return node.build();
    }

    public static AttributeProto intAttribute(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    public static AttributeProto floatAttribute(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    public static AttributeProto intsAttribute(String name, long... values) {
        AttributeProto.Builder attribute = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long value : values) {
            attribute.addInts(value);
        }
        return attribute.build();
    }

    public static ModelProto model(long opset, List<ValueInfoProto> inputs, List<ValueInfoProto> outputs, List<NodeProto> nodes,
            List<TensorProto> initializers) {
        GraphProto graph = GraphProto.newBuilder().setName("test").addAllInput(inputs).addAllOutput(outputs).addAllNode(nodes)
                .addAllInitializer(initializers).build();
        return ModelProto.newBuilder().setIrVersion(opset >= 13 ? 7 : 4).setProducerName("condense-test").setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).build();
    }

    public static TensorProto floats(String name, long[] shape, float... values) {
        return Tensor.fromFloats(name, io.condense.sdk.tensor.DataType.FLOAT, shape, values).toProto();
    }

    /** Runs a model on one float input and returns every output flattened, in output order. */
    public static List<float[]> run(OnnxModel model, String inputName, long[] shape, float[] input) {
        return run(model.toBytes(), null, inputName, shape, input);
    }

    public static List<float[]> run(Path file, String inputName, long[] shape, float[] input) {
        return run(null, file, inputName, shape, input);
    }

    private static List<float[]> run(byte[] bytes, Path file, String inputName, long[] shape, float[] input) {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession session = bytes != null ? environment.createSession(bytes, options)
                    : environment.createSession(file.toString(), options);
                    OnnxTensor tensor = OnnxTensor.createTensor(environment, FloatBuffer.wrap(input), shape);
                    OrtSession.Result result = session.run(Map.of(inputName, tensor))) {
                List<float[]> outputs = new ArrayList<>();
                for (int i = 0; i < result.size(); i++) {
                    FloatBuffer buffer = ((OnnxTensor) result.get(i)).getFloatBuffer();
                    float[] values = new float[buffer.remaining()];
                    buffer.get(values);
                    outputs.add(values);
                }
                return outputs;
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }
}
