package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.OnnxTypes;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Converts default-domain nodes from one opset version to a newer one.
 *
 * <p>For every operator it knows the opset versions at which a new version of it was introduced (from
 * the ONNX operator changelog). Crossing such a version either changed nothing a model written for the
 * older version relies on (new types, new attributes whose defaults keep the old behaviour), or needs a
 * known rewrite (attributes that became inputs, removed attributes), or cannot be proven equivalent: then
 * the upgrade fails with UNSUPPORTED_MODEL naming the operator and the versions. Operators missing from
 * the table are refused the same way. Hand-written because no Java library converts ONNX opsets.
 */
final class OpsetUpgrader {
    /** Rewrites needed when crossing a version; anything not listed here is a compatible change. */
    private enum Change { COMPATIBLE, REWRITE, REFUSE }

    private static final Map<String, int[]> VERSIONS = new HashMap<>();

    static {
        // elementwise and activation ops
        for (String op : List.of("Abs", "Ceil", "Exp", "Floor", "Log", "Neg", "Reciprocal", "Sigmoid", "Sqrt", "Tanh")) {
            since(op, 1, 6, 13);
        }
        since("Relu", 1, 6, 13, 14);
        since("Elu", 1, 6, 22);
        since("Selu", 1, 6, 22);
        since("HardSigmoid", 1, 6, 22);
        since("LeakyRelu", 1, 6, 16);
        since("PRelu", 1, 6, 7, 9, 16);
        since("Softplus", 1, 22);
        since("Softsign", 1, 22);
        since("HardSwish", 14, 22);
        since("Erf", 9, 13);
        since("Sign", 9, 13);
        since("Round", 11, 22);
        since("Gelu", 20);
        since("Not", 1);
        for (String op : List.of("Add", "Sub", "Mul", "Div")) {
            since(op, 1, 6, 7, 13, 14);
        }
        since("Pow", 1, 7, 12, 13, 15);
        since("Mod", 10, 13);
        for (String op : List.of("And", "Or", "Xor")) {
            since(op, 1, 7);
        }
        since("Equal", 1, 7, 11, 13, 19);
        since("Less", 1, 7, 9, 13);
        since("Greater", 1, 7, 9, 13);
        since("LessOrEqual", 12, 16);
        since("GreaterOrEqual", 12, 16);
        since("Where", 9, 16);
        since("Max", 1, 6, 8, 12, 13);
        since("Min", 1, 6, 8, 12, 13);
        since("Sum", 1, 6, 8, 13);
        since("Mean", 1, 6, 8, 13);
        since("Clip", 1, 6, 11, 12, 13);
        // convolution, pooling, normalization
        since("Conv", 1, 11, 22);
        since("ConvTranspose", 1, 11, 22);
        since("MaxPool", 1, 8, 10, 11, 12, 22);
        since("AveragePool", 1, 7, 10, 11, 19, 22);
        since("GlobalAveragePool", 1, 22);
        since("GlobalMaxPool", 1, 22);
        since("BatchNormalization", 1, 6, 7, 9, 14, 15);
        since("InstanceNormalization", 1, 6, 22);
        since("LRN", 1, 13);
        since("LayerNormalization", 17);
        since("Dropout", 1, 6, 7, 10, 12, 13, 22);
        // recurrent layers: 7 dropped output_sequence (it only made the Y output optional), GRU-3 added
        // linear_before_reset and 14 added layout, both with defaults that keep the old behaviour; 22 added types
        since("LSTM", 1, 7, 14, 22);
        since("GRU", 1, 3, 7, 14, 22);
        since("RNN", 1, 7, 14, 22);
        // linear algebra
        since("Gemm", 1, 6, 7, 9, 11, 13);
        since("MatMul", 1, 9, 13);
        since("Softmax", 1, 11, 13);
        since("LogSoftmax", 1, 11, 13);
        since("Hardmax", 1, 11, 13);
        // shape and data movement
        since("Reshape", 1, 5, 13, 14, 19, 21);
        since("Flatten", 1, 9, 11, 13, 21);
        since("Concat", 1, 4, 11, 13);
        since("Transpose", 1, 13, 21);
        since("Identity", 1, 13, 14, 16, 19, 21);
        since("Squeeze", 1, 11, 13, 21);
        since("Unsqueeze", 1, 11, 13, 21);
        since("Shape", 1, 13, 15, 19, 21);
        since("Size", 1, 13, 19, 21);
        since("Gather", 1, 11, 13);
        since("Slice", 1, 10, 11, 13);
        since("Split", 1, 2, 11, 13, 18);
        since("Pad", 1, 2, 11, 13, 18, 19, 21);
        since("Tile", 1, 6, 13);
        since("Expand", 8, 13);
        since("Cast", 1, 6, 9, 13, 19, 21);
        since("Constant", 1, 9, 11, 12, 13, 19, 21);
        since("ConstantOfShape", 9, 20, 21);
        since("ReduceSum", 1, 11, 13);
        for (String op : List.of("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                "ReduceLogSumExp", "ReduceSumSquare")) {
            since(op, 1, 11, 13, 18);
        }
        since("ArgMax", 1, 11, 12, 13);
        since("ArgMin", 1, 11, 12, 13);
        since("TopK", 1, 10, 11);
        since("Upsample", 1, 7, 9, 10);
        since("Resize", 10, 11, 13, 18, 19);
        since("DepthToSpace", 1, 11, 13);
        since("SpaceToDepth", 1, 13);
        since("QuantizeLinear", 10, 13, 19, 21);
        since("DequantizeLinear", 10, 13, 19, 21);
        since("QLinearConv", 10);
        since("QLinearMatMul", 10, 21);
        since("ConvInteger", 10);
        since("MatMulInteger", 10);
        since("NonZero", 9, 13);
        since("Range", 11);
        since("Trilu", 14);
        since("OneHot", 9, 11);
    }

    private static void since(String op, int... versions) {
        VERSIONS.put(op, versions);
    }

    private final long from;
    private final long to;
    private final ModelEditor editor;
    private ShapeInference shapes;
    private Set<String> readValues;

    /** The newest default-domain opset whose operator changes the table above records. */
    static final long NEWEST_KNOWN_OPSET = 22;

    OpsetUpgrader(long from, long to, ModelEditor editor) {
        if (to > NEWEST_KNOWN_OPSET) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot upgrade the model from opset " + from + " to " + to
                    + ": Condense knows operator changes up to opset " + NEWEST_KNOWN_OPSET);
        }
        this.from = from;
        this.to = to;
        this.editor = editor;
    }

    /** The IR version released with an opset of the default domain (a model needs at least that to use it). */
    static long irVersionFor(long opset) {
        if (opset <= 8) {
            return 3;
        }
        if (opset == 9) {
            return 4;
        }
        if (opset == 10) {
            return 5;
        }
        if (opset == 11) {
            return 6;
        }
        if (opset <= 14) {
            return 7;
        }
        if (opset <= 18) {
            return 8;
        }
        if (opset <= 20) {
            return 9;
        }
        return 10;
    }

    NodeProto upgrade(NodeProto node) {
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return node;
        }
        String op = node.getOpType();
        int[] versions = VERSIONS.get(op);
        if (versions == null) {
            throw refuse(node, "Condense has no record of how " + op + " changed between these versions");
        }
        if (GraphNames.hasSubgraph(node)) {
            throw refuse(node, "nodes with subgraphs are not converted");
        }
        NodeProto current = node;
        for (int version : versions) {
            if (version > from && version <= to) {
                current = step(current, version);
                if (!current.getOpType().equals(op)) {
                    return upgrade(current); // replaced by another op (Dropout -> Identity): convert that one
                }
            }
        }
        return current;
    }

    private NodeProto step(NodeProto node, int version) {
        String op = node.getOpType();
        NodeProto current = node;
        if (version == 6) {
            current = without(current, "consumed_inputs"); // a memory hint of opset 1, no effect on results
        }
        switch (op) {
            case "Add", "Sub", "Mul", "Div", "Gemm", "PRelu", "Pow" -> {
                if (version == 7) {
                    if (attribute(current, "axis").isPresent()) {
                        throw refuse(current, "legacy broadcasting along an explicit axis cannot be converted", version);
                    }
                    current = without(current, "broadcast"); // numpy broadcasting since 7 covers the old suffix broadcasting
                }
            }
            case "BatchNormalization" -> {
                if (version == 7) {
                    current = without(current, "is_test");
                }
                if (version == 9) {
                    Optional<AttributeProto> spatial = attribute(current, "spatial");
                    if (spatial.isPresent() && spatial.get().getI() != 1) {
                        throw refuse(current, "spatial=0 (per-activation statistics) has no equivalent", version);
                    }
                    current = without(current, "spatial");
                }
                if (version == 14) {
                    for (int i = 1; i < current.getOutputCount(); i++) {
                        if (!current.getOutput(i).isEmpty() && isRead(current.getOutput(i))) {
                            throw refuse(current, "its training outputs (mean, variance) are used", version);
                        }
                    }
                    current = keepFirstOutput(current);
                }
            }
            case "Dropout" -> {
                // in inference Dropout is the identity; its mask output is refused if anything reads it, and so is
                // a training_mode input (opset 12+), which could switch dropout on
                if (current.getInputCount() > 2 && !current.getInput(2).isEmpty()) {
                    throw refuse(current, "it has a training_mode input", version);
                }
                for (int i = 1; i < current.getOutputCount(); i++) {
                    if (!current.getOutput(i).isEmpty() && isRead(current.getOutput(i))) {
                        throw refuse(current, "its mask output is used", version);
                    }
                }
                NodeProto.Builder identity = NodeProto.newBuilder().setName(current.getName()).setOpType("Identity")
                        .addInput(current.getInput(0)).addOutput(current.getOutput(0));
                if (!current.getDocString().isEmpty()) {
                    identity.setDocString(current.getDocString());
                }
                return identity.build();
            }
            case "LSTM", "GRU", "RNN" -> {
                if (version == 7) {
                    current = without(current, "output_sequence");
                }
            }
            case "Clip" -> {
                if (version == 11) {
                    current = clipAttributesToInputs(current);
                }
            }
            case "Pad" -> {
                if (version == 2) {
                    Optional<AttributeProto> paddings = attribute(current, "paddings");
                    if (paddings.isPresent()) {
                        current = without(current, "paddings").toBuilder()
                                .addAttribute(paddings.get().toBuilder().setName("pads")).build();
                    }
                }
                if (version == 11) {
                    current = padAttributesToInputs(current);
                }
            }
            case "Slice" -> {
                if (version == 10) {
                    current = sliceAttributesToInputs(current);
                }
            }
            case "Squeeze", "Unsqueeze", "ReduceSum" -> {
                if (version == 13) {
                    current = axesToInput(current);
                }
            }
            case "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                    "ReduceSumSquare" -> {
                if (version == 18) {
                    current = axesToInput(current);
                }
            }
            case "Split" -> {
                if (version == 2 && current.getInputCount() > 1) {
                    throw refuse(current, "split sizes given as an input", version);
                }
                if (version == 13) {
                    Optional<AttributeProto> split = attribute(current, "split");
                    if (split.isPresent()) {
                        String name = constant(current, "split", split.get().getIntsList());
                        current = without(current, "split").toBuilder().addInput(name).build();
                    }
                }
                if (version == 18 && current.getInputCount() < 2) {
                    current = current.toBuilder().addAttribute(AttributeProto.newBuilder().setName("num_outputs")
                            .setType(AttributeProto.AttributeType.INT).setI(current.getOutputCount())).build();
                }
            }
            case "Softmax", "LogSoftmax", "Hardmax" -> {
                if (version == 13) {
                    current = softmaxAxis(current);
                }
            }
            case "Reshape" -> {
                if (version == 5 && !(attribute(current, "shape").isEmpty() && current.getInputCount() == 2)) {
                    Optional<AttributeProto> shape = attribute(current, "shape");
                    if (shape.isEmpty()) {
                        throw refuse(current, "it has no shape attribute", version);
                    }
                    String name = constant(current, "shape", shape.get().getIntsList());
                    current = without(current, "shape").toBuilder().addInput(name).build();
                }
            }
            case "Concat" -> {
                if (version == 4 && attribute(current, "axis").isEmpty()) {
                    current = current.toBuilder().addAttribute(AttributeProto.newBuilder().setName("axis")
                            .setType(AttributeProto.AttributeType.INT).setI(1)).build(); // the opset-1 default
                }
            }
            case "TopK" -> {
                if (version == 10 && !(attribute(current, "k").isEmpty() && current.getInputCount() == 2)) {
                    Optional<AttributeProto> k = attribute(current, "k");
                    if (k.isEmpty()) {
                        throw refuse(current, "it has no k attribute", version);
                    }
                    String name = constant(current, "k", List.of(k.get().getI()));
                    current = without(current, "k").toBuilder().addInput(name).build();
                }
            }
            case "Tile" -> {
                if (version == 6 && current.getInputCount() > 2) {
                    throw refuse(current, "the opset-1 form with tiles and axis inputs", version);
                }
            }
            case "Cast" -> {
                if (version == 6) {
                    Optional<AttributeProto> target = attribute(current, "to");
                    if (target.isPresent() && target.get().getType() == AttributeProto.AttributeType.STRING) {
                        throw refuse(current, "a type given as text", version);
                    }
                }
            }
            case "ConvTranspose", "MaxPool", "AveragePool" -> {
                if (version == 11) {
                    Optional<AttributeProto> autoPad = attribute(current, "auto_pad");
                    String mode = autoPad.map(a -> a.getS().toStringUtf8()).orElse("NOTSET");
                    if (mode.startsWith("SAME")) {
                        throw refuse(current, "auto_pad=" + mode + " padding rules were clarified in this version", version);
                    }
                }
            }
            case "Upsample" -> {
                // Upsample-9 (X, scales) is Resize-10 (X, scales) when it only enlarges; the attribute form of 7 is refused
                if (version == 10) {
                    if (current.getInputCount() != 2 || !enlargesOnly(current.getInput(1))) {
                        throw refuse(current, "Upsample is deprecated and only Upsample-9 with constant scales >= 1 is converted; "
                                + "convert it to Resize with the exporter", version);
                    }
                    current = current.toBuilder().setOpType("Resize").build();
                }
            }
            case "Resize" -> {
                if (version == 11) {
                    // Resize-10 sampled asymmetric coordinates and, for nearest, the floor when enlarging; 11 names both and
                    // takes a region-of-interest input (empty here). Shrinking rounded differently: refused.
                    if (current.getInputCount() != 2 || !enlargesOnly(current.getInput(1))) {
                        throw refuse(current, "Resize coordinate transformation changed; converted only with constant scales >= 1",
                                version);
                    }
                    String roi = editor.uniqueName(baseName(current) + "_roi");
                    editor.putGeneratedInitializer(TensorProto.newBuilder().setName(roi).setDataType(TensorProto.DataType.FLOAT_VALUE)
                            .addDims(0).build());
                    String mode = attribute(current, "mode").map(a -> a.getS().toStringUtf8()).orElse("nearest");
                    NodeProto.Builder resized = current.toBuilder().clearInput().addInput(current.getInput(0)).addInput(roi)
                            .addInput(current.getInput(1))
                            .addAttribute(AttributeProto.newBuilder().setName("coordinate_transformation_mode")
                                    .setType(AttributeProto.AttributeType.STRING).setS(com.google.protobuf.ByteString.copyFromUtf8("asymmetric")));
                    if (mode.equals("nearest")) {
                        resized.addAttribute(AttributeProto.newBuilder().setName("nearest_mode").setType(AttributeProto.AttributeType.STRING)
                                .setS(com.google.protobuf.ByteString.copyFromUtf8("floor")));
                    }
                    current = resized.build();
                }
            }
            default -> {
                // every other listed version only added types or attributes whose defaults keep the old behaviour
            }
        }
        return current;
    }

    private NodeProto clipAttributesToInputs(NodeProto node) {
        Optional<AttributeProto> minimum = attribute(node, "min");
        Optional<AttributeProto> maximum = attribute(node, "max");
        if (minimum.isEmpty() && maximum.isEmpty()) {
            return node; // no bounds as attributes: nothing to move (bounds given as inputs already use the new form)
        }
        int type = elementType(node.getInput(0));
        if (type != DataType.FLOAT.onnxCode() && type != DataType.FLOAT16.onnxCode() && type != DataType.BFLOAT16.onnxCode()) {
            throw refuse(node, "Clip of " + OnnxTypes.name(type) + " values", 11);
        }
        DataType dataType = DataType.fromOnnx(type);
        NodeProto.Builder builder = without(without(node, "min"), "max").toBuilder().clearInput().addInput(node.getInput(0));
        String minimumName = "";
        String maximumName = "";
        if (minimum.isPresent()) {
            minimumName = scalar(node, "min", dataType, minimum.get().getF());
        }
        if (maximum.isPresent()) {
            maximumName = scalar(node, "max", dataType, maximum.get().getF());
        }
        if (maximum.isPresent()) {
            builder.addInput(minimumName).addInput(maximumName);
        } else if (minimum.isPresent()) {
            builder.addInput(minimumName);
        }
        return builder.build();
    }

    private NodeProto padAttributesToInputs(NodeProto node) {
        Optional<AttributeProto> pads = attribute(node, "pads");
        if (pads.isEmpty() && node.getInputCount() >= 2) {
            return node; // already in the opset-11 form
        }
        if (pads.isEmpty()) {
            throw refuse(node, "it has no pads attribute", 11);
        }
        Optional<AttributeProto> value = attribute(node, "value");
        NodeProto.Builder builder = without(without(node, "pads"), "value").toBuilder();
        builder.addInput(constant(node, "pads", pads.get().getIntsList()));
        if (value.isPresent() && value.get().getF() != 0f) {
            int type = elementType(node.getInput(0));
            if (!DataType.isSupported(type) || !DataType.fromOnnx(type).isFloatingPoint()) {
                throw refuse(node, "a constant pad value for " + OnnxTypes.name(type) + " values", 11);
            }
            builder.addInput(scalar(node, "value", DataType.fromOnnx(type), value.get().getF()));
        }
        return builder.build();
    }

    private NodeProto sliceAttributesToInputs(NodeProto node) {
        Optional<AttributeProto> starts = attribute(node, "starts");
        Optional<AttributeProto> ends = attribute(node, "ends");
        if (starts.isEmpty() && ends.isEmpty() && node.getInputCount() >= 3) {
            return node; // already in the opset-10 form
        }
        if (starts.isEmpty() || ends.isEmpty()) {
            throw refuse(node, "it lacks starts or ends", 10);
        }
        Optional<AttributeProto> axes = attribute(node, "axes");
        NodeProto.Builder builder = without(without(without(node, "starts"), "ends"), "axes").toBuilder();
        builder.addInput(constant(node, "starts", starts.get().getIntsList()));
        builder.addInput(constant(node, "ends", ends.get().getIntsList()));
        if (axes.isPresent()) {
            builder.addInput(constant(node, "axes", axes.get().getIntsList()));
        }
        return builder.build();
    }

    private NodeProto axesToInput(NodeProto node) {
        Optional<AttributeProto> axes = attribute(node, "axes");
        if (axes.isEmpty()) {
            return node; // no axes: Squeeze drops every 1, reductions reduce all axes, in old and new versions alike
        }
        String name = constant(node, "axes", axes.get().getIntsList());
        NodeProto.Builder builder = without(node, "axes").toBuilder();
        return builder.addInput(name).build();
    }

    private NodeProto softmaxAxis(NodeProto node) {
        // before 13 the input was flattened to 2-D at `axis` (default 1); from 13 the op runs along `axis` alone
        // (default -1). They agree when every dimension after `axis` is 1, in particular when it is the last axis.
        long axis = attribute(node, "axis").map(AttributeProto::getI).orElse(1L);
        Optional<long[]> shape = shapes().shape(node.getInput(0));
        if (shape.isEmpty()) {
            throw refuse(node, "the rank of its input is unknown, so the old and new meaning of axis cannot be matched", 13);
        }
        long[] dims = shape.get();
        int rank = dims.length;
        long normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= rank) {
            throw refuse(node, "axis " + axis + " is outside its rank-" + rank + " input", 13);
        }
        for (int i = (int) normalized + 1; i < rank; i++) {
            if (dims[i] != 1) {
                throw refuse(node, "axis " + axis + " is not the last axis of its input of shape " + java.util.Arrays.toString(dims)
                        + ", where the opset-13 meaning differs", 13);
            }
        }
        return without(node, "axis").toBuilder().addAttribute(AttributeProto.newBuilder().setName("axis")
                .setType(AttributeProto.AttributeType.INT).setI(normalized)).build();
    }

    private String constant(NodeProto node, String what, List<Long> values) {
        long[] array = new long[values.size()];
        for (int i = 0; i < array.length; i++) {
            array[i] = values.get(i);
        }
        String name = editor.uniqueName(baseName(node) + "_" + what);
        TensorProto tensor = Tensor.fromLongs(name, new long[] {array.length}, array).toProto();
        editor.putGeneratedInitializer(tensor);
        return name;
    }

    private String scalar(NodeProto node, String what, DataType type, float value) {
        String name = editor.uniqueName(baseName(node) + "_" + what);
        editor.putGeneratedInitializer(Tensor.fromFloats(name, type, new long[0], new float[] {value}).toProto());
        return name;
    }

    /** Whether {@code scales} is a float initializer of the edit whose values are all at least 1. */
    private boolean enlargesOnly(String scales) {
        TensorProto tensor = editor.initializerProto(scales);
        if (tensor == null || tensor.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
            return false;
        }
        for (float value : Tensor.fromProto(tensor).toFloatArray()) {
            if (!(value >= 1f)) {
                return false;
            }
        }
        return true;
    }

    private static String baseName(NodeProto node) {
        return node.getName().isEmpty() ? node.getOutput(0) : node.getName();
    }

    private int elementType(String value) {
        int type = shapes().elementType(value);
        return type == 0 ? DataType.FLOAT.onnxCode() : type;
    }

    private ShapeInference shapes() {
        if (shapes == null) {
            shapes = ShapeInference.of(editor.snapshot());
        }
        return shapes;
    }

    private boolean isRead(String value) {
        if (readValues == null) {
            readValues = new HashSet<>();
            GraphProto graph = editor.snapshot();
            for (NodeProto node : graph.getNodeList()) {
                readValues.addAll(GraphNames.reads(node));
            }
            for (ValueInfoProto output : graph.getOutputList()) {
                readValues.add(output.getName());
            }
        }
        return readValues.contains(value);
    }

    private static NodeProto keepFirstOutput(NodeProto node) {
        List<String> outputs = new ArrayList<>(node.getOutputList());
        return node.toBuilder().clearOutput().addOutput(outputs.get(0)).build();
    }

    private static Optional<AttributeProto> attribute(NodeProto node, String name) {
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals(name)) {
                return Optional.of(attribute);
            }
        }
        return Optional.empty();
    }

    private static NodeProto without(NodeProto node, String attributeName) {
        for (int i = 0; i < node.getAttributeCount(); i++) {
            if (node.getAttribute(i).getName().equals(attributeName)) {
                return node.toBuilder().removeAttribute(i).build();
            }
        }
        return node;
    }

    private CondenseException refuse(NodeProto node, String reason) {
        return new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot upgrade node '" + OnnxModel.nodeLabel(node)
                + ") from opset " + from + " to " + to + ": " + reason);
    }

    private CondenseException refuse(NodeProto node, String reason, int version) {
        return new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot upgrade node '" + OnnxModel.nodeLabel(node)
                + ") from opset " + from + " to " + to + ": its meaning changed at opset " + version + " (" + reason + ")");
    }
}
