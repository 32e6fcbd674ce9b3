package io.condense.server.training;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.training.TrainableInitializers;
import io.condense.sdk.training.TrainingOperators;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An ONNX graph ready to interpret: its nodes in order with their kernels, its real inputs, its outputs. Built
 * only when every operator is supported; {@link #unsupportedOperators} names the others.
 */
final class GraphProgram {
    private final OnnxModel model;
    private final long opset;
    private final List<OnnxNode> nodes;
    private final List<Kernel> kernels;
    private final List<String> inputNames;
    private final List<String> outputNames;

    private GraphProgram(OnnxModel model) {
        this.model = model;
        this.opset = model.opsetVersion("").orElse(model.opsetVersion("ai.onnx").orElse(1L));
        List<String> unsupported = unsupportedOperators(model);
        if (!unsupported.isEmpty()) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "the training runtime cannot interpret "
                    + String.join(", ", unsupported) + " (it supports " + String.join(", ", Operators.supported())
                    + "); nothing was trained. Export the model without these operators, or train it elsewhere");
        }
        List<NodeProto> protos = model.nodes();
        refuseFourBitQuantization(model, protos);
        this.nodes = new ArrayList<>(protos.size());
        this.kernels = new ArrayList<>(protos.size());
        for (int i = 0; i < protos.size(); i++) {
            OnnxNode node = new OnnxNode(protos.get(i), i);
            nodes.add(node);
            kernels.add(kernelOf(node));
        }
        List<String> inputs = new ArrayList<>();
        for (ValueInfoProto input : model.inputs()) {
            if (!model.isInitializer(input.getName())) {
                inputs.add(input.getName());
            }
        }
        this.inputNames = List.copyOf(inputs);
        List<String> outputs = new ArrayList<>();
        for (ValueInfoProto output : model.outputs()) {
            outputs.add(output.getName());
        }
        this.outputNames = List.copyOf(outputs);
    }

    /**
     * 4-bit initializers load one level per 8-bit element; DequantizeLinear reads them exactly, but a QuantizeLinear
     * whose zero point is 4-bit would clamp to the 8-bit range, so it is refused rather than run wrong.
     */
    private static void refuseFourBitQuantization(OnnxModel model, List<NodeProto> protos) {
        for (int i = 0; i < protos.size(); i++) {
            NodeProto node = protos.get(i);
            if (node.getOpType().equals("QuantizeLinear") && node.getInputCount() > 2) {
                int type = model.initializer(node.getInput(2)).map(TensorProto::getDataType).orElse(0);
                if (type == TensorProto.DataType.INT4_VALUE || type == TensorProto.DataType.UINT4_VALUE) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, new OnnxNode(node, i).describe()
                            + " quantizes to a 4-bit zero point, which the training runtime does not interpret (it fake-quantizes "
                            + "to int8 and uint8 only); use an 8-bit zero point and a Clip to the 4-bit range");
                }
            }
        }
    }

    static GraphProgram compile(OnnxModel model) {
        return new GraphProgram(requireNonNull(model, "model is null"));
    }

    /** The kernel of a node of the default domain or of the training runtime's own ({@link TrainingDomainOperators}), or null. */
    private static Kernel kernelOf(OnnxNode node) {
        String domain = node.proto().getDomain();
        if (domain.isEmpty() || domain.equals("ai.onnx")) {
            return Operators.kernel(node.opType());
        }
        return domain.equals(TrainingOperators.DOMAIN) ? TrainingDomainOperators.kernel(node.opType()) : null;
    }

    /** Sorted operator names not interpretable, with their node counts: {@code NonMaxSuppression (2 nodes)}. */
    static List<String> unsupportedOperators(OnnxModel model) {
        Map<String, Integer> counts = new TreeMap<>();
        List<NodeProto> protos = model.nodes();
        for (int i = 0; i < protos.size(); i++) {
            OnnxNode node = new OnnxNode(protos.get(i), i);
            if (kernelOf(node) == null) {
                counts.merge(node.qualifiedOpType(), 1, Integer::sum);
            }
        }
        List<String> names = new ArrayList<>();
        counts.forEach((op, count) -> names.add(op + " (" + count + (count == 1 ? " node)" : " nodes)")));
        return names;
    }

    OnnxModel model() {
        return model;
    }

    long opset() {
        return opset;
    }

    List<String> inputNames() {
        return inputNames;
    }

    List<String> outputNames() {
        return outputNames;
    }

    /** The declared shape of a real input (-1 for dynamic or symbolic dimensions). */
    long[] inputShape(String name) {
        for (ValueInfoProto input : model.inputs()) {
            if (input.getName().equals(name)) {
                var dims = input.getType().getTensorType().getShape().getDimList();
                long[] shape = new long[dims.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = dims.get(i).hasDimValue() ? dims.get(i).getDimValue() : -1;
                }
                return shape;
            }
        }
        throw new IllegalArgumentException("no input " + name);
    }

    /** Every initializer as an NDArray in the manager, by name (float types as float32). */
    Map<String, NDArray> loadInitializers(NDManager manager) {
        Map<String, NDArray> values = new LinkedHashMap<>();
        for (TensorProto initializer : model.graph().getInitializerList()) {
            values.put(initializer.getName(), Conversions.fromTensor(manager, Tensor.fromProto(initializer)));
        }
        return values;
    }

    /**
     * The default trainable set: float32 initializers never read in a structural position (a shape, a running
     * statistic, a quantization parameter, a bound, a ratio, axes or indices).
     */
    Set<String> defaultTrainable() {
        return TrainableInitializers.defaults(model);
    }

    /** Initializers that batch normalization updates in training mode (its running mean and variance). */
    Set<String> runningStatistics() {
        Set<String> names = new TreeSet<>();
        for (OnnxNode node : nodes) {
            if (node.opType().equals("BatchNormalization") && node.proto().getInputCount() >= 5) {
                for (int position = 3; position <= 4; position++) {
                    String name = node.proto().getInput(position);
                    if (model.isInitializer(name)) {
                        names.add(name);
                    }
                }
            }
        }
        return names;
    }

    /**
     * Runs the graph. {@code values} starts with the initializers and inputs; every node's outputs are added to it.
     * Returns the requested values (all graph outputs when {@code wanted} is empty).
     */
    Map<String, NDArray> run(ExecutionContext context, Map<String, NDArray> initializers, Map<String, NDArray> inputs,
            List<String> wanted) {
        Map<String, NDArray> values = new HashMap<>(initializers.size() + nodes.size() * 2);
        values.putAll(initializers);
        values.putAll(inputs);
        for (int i = 0; i < nodes.size(); i++) {
            OnnxNode node = nodes.get(i);
            NodeProto proto = node.proto();
            NDArray[] arguments = new NDArray[proto.getInputCount()];
            for (int j = 0; j < arguments.length; j++) {
                String name = proto.getInput(j);
                if (!name.isEmpty()) {
                    NDArray value = values.get(name);
                    if (value == null) {
                        throw new CondenseException(ErrorCode.INVALID_MODEL, node.describe() + " reads " + name
                                + ", which no earlier node, input or initializer defines");
                    }
                    arguments[j] = value;
                }
            }
            NDArray[] results;
            try {
                results = kernels.get(i).apply(context, node, arguments);
            } catch (CondenseException e) {
                throw e;
            } catch (RuntimeException e) {
                throw new CondenseException(ErrorCode.RUNTIME_FAILURE, node.describe() + " failed on inputs "
                        + shapes(arguments) + ": " + e.getMessage(), e);
            }
            for (int j = 0; j < results.length && j < proto.getOutputCount(); j++) {
                if (!proto.getOutput(j).isEmpty()) {
                    values.put(proto.getOutput(j), results[j]);
                }
            }
        }
        List<String> names = wanted.isEmpty() ? outputNames : wanted;
        Map<String, NDArray> outputs = new LinkedHashMap<>();
        for (String name : names) {
            NDArray value = values.get(name);
            if (value == null) {
                throw new CondenseException(ErrorCode.INVALID_MODEL, "the graph does not compute its output " + name);
            }
            outputs.put(name, value);
        }
        return outputs;
    }

    private static String shapes(NDArray[] arguments) {
        StringBuilder text = new StringBuilder("[");
        for (int i = 0; i < arguments.length; i++) {
            if (i > 0) {
                text.append(", ");
            }
            text.append(arguments[i] == null ? "absent" : arguments[i].getShape() + " " + arguments[i].getDataType());
        }
        return text.append(']').toString();
    }
}
