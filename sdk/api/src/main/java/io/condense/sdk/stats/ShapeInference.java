package io.condense.sdk.stats;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Static shapes (and element types) of a graph's values, propagated from the graph inputs through the
 * common operators. Dynamic dimensions of graph inputs are taken as 1. Shapes the model declares in
 * {@code value_info} are used where propagation cannot work them out. Small integer tensors (shape
 * computations: Constant, Shape, Gather, Unsqueeze, Concat, Slice...) are folded, so Reshape targets built
 * from them are known. Hand-written: there is no ONNX shape inference for Java.
 */
public final class ShapeInference {
    private static final int MAX_FOLDED_ELEMENTS = 64;
    private static final Set<String> UNARY = Set.of("Relu", "LeakyRelu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs",
            "Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Erf", "Reciprocal", "Floor", "Ceil", "Round",
            "Sign", "Not", "Clip", "Identity", "Dropout", "LRN", "InstanceNormalization", "BatchNormalization", "Softmax",
            "LogSoftmax", "Hardmax", "Gelu", "LayerNormalization", "Mish", "Celu", "ThresholdedRelu", "IsNaN", "IsInf", "PRelu",
            "QuantizeLinear", "DequantizeLinear", "Cast", "CumSum", "Trilu", "RMSNormalization", "SimplifiedLayerNormalization");
    private static final Set<String> BROADCAST = Set.of("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal",
            "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "Mod", "BitShift");
    private static final Set<String> BOOLEAN_RESULT = Set.of("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And",
            "Or", "Xor", "Not", "IsNaN", "IsInf");

    private final Map<String, long[]> shapes = new HashMap<>();
    private final Map<String, Integer> types = new HashMap<>();
    private final Map<String, long[]> constants = new HashMap<>();

    private ShapeInference() {
    }

    public static ShapeInference of(OnnxModel model) {
        requireNonNull(model, "model is null");
        return of(model.graph());
    }

    public static ShapeInference of(GraphProto graph) {
        requireNonNull(graph, "graph is null");
        ShapeInference inference = new ShapeInference();
        inference.run(graph);
        return inference;
    }

    /** The static shape of a value, when known. */
    public Optional<long[]> shape(String value) {
        long[] shape = shapes.get(value);
        return shape == null ? Optional.empty() : Optional.of(shape.clone());
    }

    /** The ONNX element type code of a value, or 0 when unknown. */
    public int elementType(String value) {
        return types.getOrDefault(value, 0);
    }

    /** Every known shape, by value name. */
    public Map<String, long[]> shapes() {
        Map<String, long[]> copy = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> copy.put(name, shape.clone()));
        return Collections.unmodifiableMap(copy);
    }

    private void run(GraphProto graph) {
        for (ValueInfoProto input : graph.getInputList()) {
            declare(input);
        }
        for (TensorProto tensor : graph.getInitializerList()) {
            long[] dims = dims(tensor.getDimsList());
            shapes.put(tensor.getName(), dims);
            types.put(tensor.getName(), tensor.getDataType());
            fold(tensor);
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            shapes.put(sparse.getValues().getName(), dims(sparse.getDimsList()));
            types.put(sparse.getValues().getName(), sparse.getValues().getDataType());
        }
        Map<String, ValueInfoProto> declared = new HashMap<>();
        for (ValueInfoProto value : graph.getValueInfoList()) {
            declared.put(value.getName(), value);
        }
        for (ValueInfoProto value : graph.getOutputList()) {
            declared.put(value.getName(), value);
        }
        // a few passes so graphs listed out of order (an edit in progress) still resolve
        for (int pass = 0; pass < 3; pass++) {
            boolean progress = false;
            for (NodeProto node : graph.getNodeList()) {
                if (node.getOutputCount() == 0 || shapes.containsKey(node.getOutput(0))) {
                    continue;
                }
                boolean matMulNBits = isMatMulNBits(node);
                if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx") && !matMulNBits) {
                    continue;
                }
                try {
                    if (matMulNBits) {
                        inferMatMulNBits(node);
                    } else {
                        infer(node);
                    }
                } catch (RuntimeException e) {
                    // a node whose attributes or inputs do not fit: leave its outputs unknown
                }
                for (String output : node.getOutputList()) {
                    if (!shapes.containsKey(output) && declared.containsKey(output)) {
                        declare(declared.get(output));
                    }
                }
                if (shapes.containsKey(node.getOutput(0))) {
                    progress = true;
                }
            }
            if (!progress) {
                break;
            }
        }
    }

    private void declare(ValueInfoProto value) {
        TypeProto type = value.getType();
        if (!type.hasTensorType()) {
            return;
        }
        if (type.getTensorType().getElemType() != 0) {
            types.putIfAbsent(value.getName(), type.getTensorType().getElemType());
        }
        if (type.getTensorType().hasShape()) {
            TensorShapeProto shape = type.getTensorType().getShape();
            long[] dims = new long[shape.getDimCount()];
            for (int i = 0; i < dims.length; i++) {
                TensorShapeProto.Dimension dim = shape.getDim(i);
                dims[i] = dim.hasDimValue() && dim.getDimValue() > 0 ? dim.getDimValue() : 1;
            }
            shapes.putIfAbsent(value.getName(), dims);
        }
    }

    private void fold(TensorProto tensor) {
        int type = tensor.getDataType();
        if ((type == DataType.INT64.onnxCode() || type == DataType.INT32.onnxCode())) {
            long count = 1;
            for (long dim : tensor.getDimsList()) {
                count *= dim;
            }
            if (count <= MAX_FOLDED_ELEMENTS) {
                try {
                    constants.put(tensor.getName(), Tensor.fromProto(tensor).toLongArray());
                } catch (RuntimeException e) {
                    // not foldable: only its shape is known
                }
            }
        }
    }

    private void set(String name, long[] shape, int type) {
        if (name.isEmpty() || shape == null) {
            return;
        }
        shapes.put(name, shape);
        if (type != 0) {
            types.put(name, type);
        }
    }

    private void setConstant(String name, long[] values) {
        if (values != null && values.length <= MAX_FOLDED_ELEMENTS) {
            constants.put(name, values);
        }
    }

    /** ONNX Runtime's weight-only int4 MatMul (com.microsoft.MatMulNBits): Y = A x B, B [K, N] packed in blocks. */
    public static boolean isMatMulNBits(NodeProto node) {
        return node.getOpType().equals("MatMulNBits") && node.getDomain().equals("com.microsoft");
    }

    /** MatMulNBits: Y has A's shape with the last dimension N (its attribute). */
    private void inferMatMulNBits(NodeProto node) {
        long[] a = shapes.get(node.getInput(0));
        if (a != null && a.length >= 1) {
            long[] y = a.clone();
            y[y.length - 1] = NodeAttributes.getInt(node, "N", -1);
            set(node.getOutput(0), y, types.getOrDefault(node.getInput(0), DataType.FLOAT.onnxCode()));
        }
    }

    private void infer(NodeProto node) {
        String op = node.getOpType();
        String output = node.getOutput(0);
        long[] x = node.getInputCount() > 0 ? shapes.get(node.getInput(0)) : null;
        int xType = node.getInputCount() > 0 ? types.getOrDefault(node.getInput(0), 0) : 0;
        if (op.equals("Constant")) {
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.hasT()) {
                    set(output, dims(attribute.getT().getDimsList()), attribute.getT().getDataType());
                    TensorProto named = attribute.getT().toBuilder().setName(output).build();
                    fold(named);
                } else if (attribute.getName().equals("value_int")) {
                    set(output, new long[0], DataType.INT64.onnxCode());
                    setConstant(output, new long[] {attribute.getI()});
                } else if (attribute.getName().equals("value_ints")) {
                    set(output, new long[] {attribute.getIntsCount()}, DataType.INT64.onnxCode());
                    setConstant(output, toArray(attribute.getIntsList()));
                } else if (attribute.getName().equals("value_float")) {
                    set(output, new long[0], DataType.FLOAT.onnxCode());
                } else if (attribute.getName().equals("value_floats")) {
                    set(output, new long[] {attribute.getFloatsCount()}, DataType.FLOAT.onnxCode());
                }
            }
            return;
        }
        if (x == null) {
            return;
        }
        if (UNARY.contains(op)) {
            int type = xType;
            if (op.equals("Cast")) {
                type = (int) NodeAttributes.getInt(node, "to", 0);
            } else if (op.equals("DequantizeLinear")) {
                type = node.getInputCount() > 1 ? types.getOrDefault(node.getInput(1), DataType.FLOAT.onnxCode()) : DataType.FLOAT.onnxCode();
            } else if (op.equals("QuantizeLinear")) {
                type = node.getInputCount() > 2 && !node.getInput(2).isEmpty()
                        ? types.getOrDefault(node.getInput(2), DataType.UINT8.onnxCode()) : DataType.UINT8.onnxCode();
            } else if (BOOLEAN_RESULT.contains(op)) {
                type = 9;
            }
            set(output, x.clone(), type);
            if (op.equals("Dropout") && node.getOutputCount() > 1) {
                set(node.getOutput(1), x.clone(), 9);
            }
            if ((op.equals("Identity") || op.equals("Cast")) && constants.containsKey(node.getInput(0))) {
                setConstant(output, constants.get(node.getInput(0)));
            }
            return;
        }
        if (BROADCAST.contains(op)) {
            long[] result = x;
            for (int i = 1; i < node.getInputCount(); i++) {
                long[] other = shapes.get(node.getInput(i));
                if (other == null) {
                    return;
                }
                result = broadcast(result, other);
            }
            int type = BOOLEAN_RESULT.contains(op) ? 9 : op.equals("Where") ? types.getOrDefault(node.getInput(1), 0) : xType;
            set(output, result, type);
            foldArithmetic(node);
            return;
        }
        switch (op) {
            case "Conv" -> set(output, convolution(node, x, shapes.get(node.getInput(1))), xType);
            case "ConvTranspose" -> set(output, transposedConvolution(node, x, shapes.get(node.getInput(1))), xType);
            case "MaxPool", "AveragePool", "LpPool" -> {
                long[] result = pooling(node, x);
                set(output, result, xType);
                if (node.getOutputCount() > 1) {
                    set(node.getOutput(1), result, DataType.INT64.onnxCode());
                }
            }
            case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool" -> {
                long[] result = x.clone();
                for (int i = 2; i < result.length; i++) {
                    result[i] = 1;
                }
                set(output, result, xType);
            }
            case "Flatten" -> {
                int axis = normalize(NodeAttributes.getInt(node, "axis", 1), x.length + 1);
                set(output, new long[] {product(x, 0, axis), product(x, axis, x.length)}, xType);
            }
            case "Reshape" -> {
                long[] target = node.getInputCount() > 1 ? constants.get(node.getInput(1)) : attributeInts(node, "shape");
                if (target != null) {
                    long[] result = reshape(x, target, NodeAttributes.getInt(node, "allowzero", 0) != 0);
                    set(output, result, xType);
                    if (constants.containsKey(node.getInput(0))) {
                        setConstant(output, constants.get(node.getInput(0)));
                    }
                }
            }
            case "Gemm" -> {
                long[] b = shapes.get(node.getInput(1));
                if (b != null && x.length == 2 && b.length == 2) {
                    long m = NodeAttributes.getInt(node, "transA", 0) != 0 ? x[1] : x[0];
                    long n = NodeAttributes.getInt(node, "transB", 0) != 0 ? b[0] : b[1];
                    set(output, new long[] {m, n}, xType);
                }
            }
            case "MatMul", "MatMulInteger" -> {
                long[] b = shapes.get(node.getInput(1));
                if (b != null) {
                    set(output, matmul(x, b), op.equals("MatMul") ? xType : DataType.INT32.onnxCode());
                }
            }
            case "Concat" -> concat(node, output, xType);
            case "Transpose" -> {
                long[] perm = attributeInts(node, "perm");
                long[] result = new long[x.length];
                for (int i = 0; i < x.length; i++) {
                    result[i] = perm == null ? x[x.length - 1 - i] : x[(int) perm[i]];
                }
                set(output, result, xType);
            }
            case "Squeeze" -> {
                long[] axes = node.getInputCount() > 1 ? constants.get(node.getInput(1)) : attributeInts(node, "axes");
                if (node.getInputCount() > 1 && axes == null) {
                    return;
                }
                boolean[] drop = new boolean[x.length];
                if (axes == null) {
                    for (int i = 0; i < x.length; i++) {
                        drop[i] = x[i] == 1;
                    }
                } else {
                    for (long axis : axes) {
                        drop[normalize(axis, x.length)] = true;
                    }
                }
                int kept = 0;
                long[] result = new long[x.length];
                for (int i = 0; i < x.length; i++) {
                    if (!drop[i]) {
                        result[kept++] = x[i];
                    }
                }
                set(output, Arrays.copyOf(result, kept), xType);
                if (constants.containsKey(node.getInput(0))) {
                    setConstant(output, constants.get(node.getInput(0)));
                }
            }
            case "Unsqueeze" -> {
                long[] axes = node.getInputCount() > 1 ? constants.get(node.getInput(1)) : attributeInts(node, "axes");
                if (axes == null) {
                    return;
                }
                int rank = x.length + axes.length;
                boolean[] inserted = new boolean[rank];
                for (long axis : axes) {
                    inserted[normalize(axis, rank)] = true;
                }
                long[] result = new long[rank];
                int next = 0;
                for (int i = 0; i < rank; i++) {
                    result[i] = inserted[i] ? 1 : x[next++];
                }
                set(output, result, xType);
                if (constants.containsKey(node.getInput(0))) {
                    setConstant(output, constants.get(node.getInput(0)));
                }
            }
            case "Shape" -> {
                int rank = x.length;
                int start = normalizeClamped(NodeAttributes.getInt(node, "start", 0), rank);
                int end = normalizeClamped(NodeAttributes.getInt(node, "end", rank), rank);
                long[] values = Arrays.copyOfRange(x, start, Math.max(start, end));
                set(output, new long[] {values.length}, DataType.INT64.onnxCode());
                setConstant(output, values);
            }
            case "Size" -> {
                set(output, new long[0], DataType.INT64.onnxCode());
                setConstant(output, new long[] {product(x, 0, x.length)});
            }
            case "Gather" -> gather(node, x, output, xType);
            case "Slice" -> slice(node, x, output, xType);
            case "ConstantOfShape" -> {
                long[] target = constants.get(node.getInput(0));
                if (target != null) {
                    int type = DataType.FLOAT.onnxCode();
                    for (AttributeProto attribute : node.getAttributeList()) {
                        if (attribute.hasT()) {
                            type = attribute.getT().getDataType();
                        }
                    }
                    set(output, target.clone(), type);
                }
            }
            case "Expand" -> {
                long[] target = constants.get(node.getInput(1));
                if (target != null) {
                    set(output, broadcast(x, target), xType);
                }
            }
            case "Pad" -> {
                long[] pads = node.getInputCount() > 1 ? constants.get(node.getInput(1)) : attributeInts(node, "pads");
                if (pads == null) {
                    pads = attributeInts(node, "paddings");
                }
                if (pads != null && pads.length == 2 * x.length) {
                    long[] result = x.clone();
                    for (int i = 0; i < x.length; i++) {
                        result[i] += pads[i] + pads[i + x.length];
                    }
                    set(output, result, xType);
                }
            }
            case "Split" -> split(node, x, xType);
            case "Range" -> range(node, output, xType);
            case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                    "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin" -> reduce(node, x, output, xType);
            case "Tile" -> {
                long[] repeats = constants.get(node.getInput(1));
                if (repeats != null && repeats.length == x.length) {
                    long[] result = x.clone();
                    for (int i = 0; i < x.length; i++) {
                        result[i] *= repeats[i];
                    }
                    set(output, result, xType);
                }
            }
            case "DepthToSpace", "SpaceToDepth" -> {
                long block = NodeAttributes.getInt(node, "blocksize", 1);
                if (x.length == 4) {
                    boolean toSpace = op.equals("DepthToSpace");
                    set(output, toSpace ? new long[] {x[0], x[1] / (block * block), x[2] * block, x[3] * block}
                            : new long[] {x[0], x[1] * block * block, x[2] / block, x[3] / block}, xType);
                }
            }
            default -> {
                // unknown operator: its outputs stay unknown unless value_info declares them
            }
        }
    }

    private static long[] convolution(NodeProto node, long[] x, long[] w) {
        if (w == null || x.length < 3 || w.length != x.length) {
            return null;
        }
        int spatial = x.length - 2;
        long[] kernel = attributeInts(node, "kernel_shape");
        if (kernel == null) {
            kernel = Arrays.copyOfRange(w, 2, w.length);
        }
        long[] result = new long[x.length];
        result[0] = x[0];
        result[1] = w[0];
        windowed(node, x, kernel, spatial, result, false);
        return result;
    }

    private static long[] transposedConvolution(NodeProto node, long[] x, long[] w) {
        if (w == null || x.length < 3 || w.length != x.length) {
            return null;
        }
        int spatial = x.length - 2;
        long[] kernel = attributeInts(node, "kernel_shape");
        if (kernel == null) {
            kernel = Arrays.copyOfRange(w, 2, w.length);
        }
        long[] explicit = attributeInts(node, "output_shape");
        long[] result = new long[x.length];
        result[0] = x[0];
        result[1] = w[1] * NodeAttributes.getInt(node, "group", 1);
        long[] strides = orOnes(attributeInts(node, "strides"), spatial);
        long[] dilations = orOnes(attributeInts(node, "dilations"), spatial);
        long[] pads = attributeInts(node, "pads");
        long[] outputPadding = attributeInts(node, "output_padding");
        String autoPad = NodeAttributes.getString(node, "auto_pad", "NOTSET");
        for (int i = 0; i < spatial; i++) {
            if (explicit != null) {
                result[i + 2] = explicit[explicit.length - spatial + i];
            } else if (autoPad.startsWith("SAME")) {
                result[i + 2] = x[i + 2] * strides[i];
            } else {
                long padding = pads == null ? 0 : pads[i] + pads[i + spatial];
                long extra = outputPadding == null ? 0 : outputPadding[i];
                result[i + 2] = strides[i] * (x[i + 2] - 1) + extra + ((kernel[i] - 1) * dilations[i] + 1) - padding;
            }
        }
        return result;
    }

    private static long[] pooling(NodeProto node, long[] x) {
        long[] kernel = attributeInts(node, "kernel_shape");
        if (kernel == null || x.length < 3) {
            return null;
        }
        long[] result = x.clone();
        windowed(node, x, kernel, x.length - 2, result, NodeAttributes.getInt(node, "ceil_mode", 0) != 0);
        return result;
    }

    /** Output sizes of a sliding window (Conv, pooling) along the spatial axes, written into result[2...]. */
    private static void windowed(NodeProto node, long[] x, long[] kernel, int spatial, long[] result, boolean ceilMode) {
        long[] strides = orOnes(attributeInts(node, "strides"), spatial);
        long[] dilations = orOnes(attributeInts(node, "dilations"), spatial);
        long[] pads = attributeInts(node, "pads");
        String autoPad = NodeAttributes.getString(node, "auto_pad", "NOTSET");
        for (int i = 0; i < spatial; i++) {
            long input = x[i + 2];
            long span = (kernel[i] - 1) * dilations[i] + 1;
            long size;
            if (autoPad.equals("SAME_UPPER") || autoPad.equals("SAME_LOWER")) {
                size = ceilDivide(input, strides[i]);
            } else if (autoPad.equals("VALID")) {
                size = ceilDivide(input - span + 1, strides[i]);
            } else {
                long padded = input + (pads == null ? 0 : pads[i] + pads[i + spatial]) - span;
                size = (ceilMode ? ceilDivide(padded, strides[i]) : Math.floorDiv(padded, strides[i])) + 1;
                if (ceilMode && (size - 1) * strides[i] >= input + (pads == null ? 0 : pads[i])) {
                    size--; // the last window must start inside the input or its left padding
                }
            }
            result[i + 2] = size;
        }
    }

    private static long[] reshape(long[] x, long[] target, boolean allowZero) {
        long[] result = target.clone();
        int unknown = -1;
        long known = 1;
        for (int i = 0; i < result.length; i++) {
            if (result[i] == 0 && !allowZero) {
                result[i] = x[i];
            }
            if (result[i] == -1) {
                unknown = i;
            } else {
                known *= result[i];
            }
        }
        if (unknown >= 0) {
            result[unknown] = known == 0 ? 0 : product(x, 0, x.length) / known;
        }
        return result;
    }

    private static long[] matmul(long[] a, long[] b) {
        long[] left = a.length == 1 ? new long[] {1, a[0]} : a;
        long[] right = b.length == 1 ? new long[] {b[0], 1} : b;
        long[] batch = broadcast(Arrays.copyOf(left, left.length - 2), Arrays.copyOf(right, right.length - 2));
        long[] result = Arrays.copyOf(batch, batch.length + 2);
        result[batch.length] = left[left.length - 2];
        result[batch.length + 1] = right[right.length - 1];
        if (b.length == 1) {
            result = Arrays.copyOf(result, result.length - 1);
        }
        if (a.length == 1) {
            long[] squeezed = new long[result.length - 1];
            int next = 0;
            for (int i = 0; i < result.length; i++) {
                if (i != (b.length == 1 ? result.length - 1 : result.length - 2)) {
                    squeezed[next++] = result[i];
                }
            }
            result = squeezed;
        }
        return result;
    }

    private void concat(NodeProto node, String output, int type) {
        long[] first = shapes.get(node.getInput(0));
        int axis = normalize(NodeAttributes.getInt(node, "axis", 1), first.length);
        long[] result = first.clone();
        boolean foldable = constants.containsKey(node.getInput(0)) && first.length == 1;
        long[] values = foldable ? constants.get(node.getInput(0)) : null;
        for (int i = 1; i < node.getInputCount(); i++) {
            long[] other = shapes.get(node.getInput(i));
            if (other == null) {
                return;
            }
            result[axis] += other[axis];
            if (foldable && constants.containsKey(node.getInput(i))) {
                long[] more = constants.get(node.getInput(i));
                long[] joined = Arrays.copyOf(values, values.length + more.length);
                System.arraycopy(more, 0, joined, values.length, more.length);
                values = joined;
            } else {
                foldable = false;
            }
        }
        set(output, result, type);
        if (foldable) {
            setConstant(output, values);
        }
    }

    private void gather(NodeProto node, long[] x, String output, int type) {
        long[] indices = shapes.get(node.getInput(1));
        if (indices == null) {
            return;
        }
        int axis = normalize(NodeAttributes.getInt(node, "axis", 0), x.length);
        long[] result = new long[x.length - 1 + indices.length];
        System.arraycopy(x, 0, result, 0, axis);
        System.arraycopy(indices, 0, result, axis, indices.length);
        System.arraycopy(x, axis + 1, result, axis + indices.length, x.length - axis - 1);
        set(output, result, type);
        long[] data = constants.get(node.getInput(0));
        long[] positions = constants.get(node.getInput(1));
        if (data != null && positions != null && x.length == 1) {
            long[] values = new long[positions.length];
            for (int i = 0; i < positions.length; i++) {
                long position = positions[i] < 0 ? positions[i] + data.length : positions[i];
                values[i] = data[(int) position];
            }
            setConstant(output, values);
        }
    }

    private void slice(NodeProto node, long[] x, String output, int type) {
        long[] starts;
        long[] ends;
        long[] axes;
        long[] steps = null;
        if (node.getInputCount() >= 3) {
            starts = constants.get(node.getInput(1));
            ends = constants.get(node.getInput(2));
            axes = node.getInputCount() > 3 && !node.getInput(3).isEmpty() ? constants.get(node.getInput(3)) : null;
            if (node.getInputCount() > 4 && !node.getInput(4).isEmpty()) {
                steps = constants.get(node.getInput(4));
                if (steps == null) {
                    return;
                }
            }
            if (node.getInputCount() > 3 && !node.getInput(3).isEmpty() && axes == null) {
                return;
            }
        } else {
            starts = attributeInts(node, "starts");
            ends = attributeInts(node, "ends");
            axes = attributeInts(node, "axes");
        }
        if (starts == null || ends == null) {
            return;
        }
        long[] result = x.clone();
        long[] firsts = new long[x.length];
        long[] strides = new long[x.length];
        Arrays.fill(strides, 1);
        for (int i = 0; i < starts.length; i++) {
            int axis = axes == null ? i : normalize(axes[i], x.length);
            long dim = x[axis];
            long step = steps == null ? 1 : steps[i];
            long start = starts[i] < 0 ? starts[i] + dim : starts[i];
            long end = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (step > 0) {
                start = Math.max(0, Math.min(start, dim));
                end = Math.max(0, Math.min(end, dim));
                result[axis] = Math.max(0, ceilDivide(end - start, step));
            } else {
                start = Math.max(-1, Math.min(start, dim - 1));
                end = Math.max(-1, Math.min(end, dim - 1));
                result[axis] = Math.max(0, ceilDivide(start - end, -step));
            }
            firsts[axis] = start;
            strides[axis] = step;
        }
        set(output, result, type);
        long[] data = constants.get(node.getInput(0));
        if (data != null && x.length == 1) {
            long[] values = new long[(int) result[0]];
            for (int i = 0; i < values.length; i++) {
                values[i] = data[(int) (firsts[0] + i * strides[0])];
            }
            setConstant(output, values);
        }
    }

    /** Range (positions 0..sequence of a transformer): its length when start, limit and delta are known constants. */
    private void range(NodeProto node, String output, int type) {
        long[] start = constants.get(node.getInput(0));
        long[] limit = constants.get(node.getInput(1));
        long[] delta = constants.get(node.getInput(2));
        if (start == null || limit == null || delta == null || start.length != 1 || limit.length != 1 || delta.length != 1
                || delta[0] == 0) {
            return;
        }
        long length = Math.max(0, ceilDivide(limit[0] - start[0], delta[0]));
        set(output, new long[] {length}, type);
        if (length <= MAX_FOLDED_ELEMENTS) {
            long[] values = new long[(int) length];
            for (int i = 0; i < values.length; i++) {
                values[i] = start[0] + i * delta[0];
            }
            setConstant(output, values);
        }
    }

    private void split(NodeProto node, long[] x, int type) {
        int axis = normalize(NodeAttributes.getInt(node, "axis", 0), x.length);
        long[] sizes = node.getInputCount() > 1 && !node.getInput(1).isEmpty() ? constants.get(node.getInput(1))
                : attributeInts(node, "split");
        int parts = node.getOutputCount();
        if (sizes == null) {
            sizes = new long[parts];
            long each = ceilDivide(x[axis], parts);
            for (int i = 0; i < parts; i++) {
                sizes[i] = Math.min(each, x[axis] - each * i);
            }
        }
        for (int i = 0; i < parts && i < sizes.length; i++) {
            long[] result = x.clone();
            result[axis] = sizes[i];
            set(node.getOutput(i), result, type);
        }
    }

    private void reduce(NodeProto node, long[] x, String output, int type) {
        long[] axes = node.getInputCount() > 1 && !node.getInput(1).isEmpty() ? constants.get(node.getInput(1)) : null;
        if (axes == null) {
            axes = attributeInts(node, "axes");
        }
        boolean arg = node.getOpType().startsWith("Arg");
        if (arg) {
            axes = new long[] {NodeAttributes.getInt(node, "axis", 0)};
        }
        boolean keep = NodeAttributes.getInt(node, "keepdims", 1) != 0;
        boolean[] reduced = new boolean[x.length];
        if (axes == null || axes.length == 0) {
            if (NodeAttributes.getInt(node, "noop_with_empty_axes", 0) != 0) {
                set(output, x.clone(), type);
                return;
            }
            Arrays.fill(reduced, true);
        } else {
            for (long axis : axes) {
                reduced[normalize(axis, x.length)] = true;
            }
        }
        long[] result = new long[x.length];
        int next = 0;
        for (int i = 0; i < x.length; i++) {
            if (!reduced[i]) {
                result[next++] = x[i];
            } else if (keep) {
                result[next++] = 1;
            }
        }
        set(output, Arrays.copyOf(result, next), arg ? DataType.INT64.onnxCode() : type);
    }

    /** Folds elementwise integer arithmetic on small constants (shape computations). */
    private void foldArithmetic(NodeProto node) {
        if (node.getInputCount() != 2) {
            return;
        }
        long[] a = constants.get(node.getInput(0));
        long[] b = constants.get(node.getInput(1));
        if (a == null || b == null || (a.length != b.length && a.length != 1 && b.length != 1)) {
            return;
        }
        int length = Math.max(a.length, b.length);
        long[] values = new long[length];
        for (int i = 0; i < length; i++) {
            long left = a[a.length == 1 ? 0 : i];
            long right = b[b.length == 1 ? 0 : i];
            switch (node.getOpType()) {
                case "Add" -> values[i] = left + right;
                case "Sub" -> values[i] = left - right;
                case "Mul" -> values[i] = left * right;
                case "Div" -> {
                    if (right == 0) {
                        return;
                    }
                    values[i] = left / right;
                }
                default -> {
                    return;
                }
            }
        }
        setConstant(node.getOutput(0), values);
    }

    static long[] broadcast(long[] a, long[] b) {
        int rank = Math.max(a.length, b.length);
        long[] result = new long[rank];
        for (int i = 0; i < rank; i++) {
            long left = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            long right = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (left != right && left != 1 && right != 1) {
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            }
            result[i] = left == 1 ? right : left;
        }
        return result;
    }

    static long product(long[] shape, int from, int to) {
        long product = 1;
        for (int i = from; i < to; i++) {
            product *= shape[i];
        }
        return product;
    }

    private static long ceilDivide(long a, long b) {
        return -Math.floorDiv(-a, b);
    }

    private static int normalize(long axis, int rank) {
        long normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= Math.max(rank, 1)) {
            throw new IllegalArgumentException("axis " + axis + " outside rank " + rank);
        }
        return (int) normalized;
    }

    private static int normalizeClamped(long axis, int rank) {
        long normalized = axis < 0 ? axis + rank : axis;
        return (int) Math.max(0, Math.min(normalized, rank));
    }

    private static long[] orOnes(long[] values, int length) {
        if (values != null) {
            return values;
        }
        long[] ones = new long[length];
        Arrays.fill(ones, 1);
        return ones;
    }

    static long[] attributeInts(NodeProto node, String name) {
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals(name)) {
                return toArray(attribute.getIntsList());
            }
        }
        return null;
    }

    private static long[] toArray(List<Long> list) {
        long[] array = new long[list.size()];
        for (int i = 0; i < array.length; i++) {
            array[i] = list.get(i);
        }
        return array;
    }

    private static long[] dims(List<Long> list) {
        return toArray(list);
    }
}
