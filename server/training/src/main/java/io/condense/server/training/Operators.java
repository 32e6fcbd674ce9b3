package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.norm.Dropout;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The ONNX operators of the default domain the training runtime interprets, each built from DJL's PyTorch
 * operations so that autograd flows through them. Attribute semantics follow the operator's definition at the
 * model's opset (Softmax's axis, Clip's bounds, Reshape's zeros, Dropout's ratio).
 */
final class Operators {
    private static final Map<String, Kernel> KERNELS;

    static {
        Map<String, Kernel> kernels = new TreeMap<>();
        kernels.put("Add", (c, n, in) -> one(in[0].add(in[1])));
        kernels.put("Sub", (c, n, in) -> one(in[0].sub(in[1])));
        kernels.put("Mul", (c, n, in) -> one(in[0].mul(in[1])));
        kernels.put("Div", Operators::div);
        kernels.put("Relu", (c, n, in) -> one(Activation.relu(in[0])));
        kernels.put("LeakyRelu", (c, n, in) -> one(Activation.leakyRelu(in[0], n.getFloat("alpha", 0.01f))));
        kernels.put("Sigmoid", (c, n, in) -> one(Activation.sigmoid(in[0])));
        kernels.put("Tanh", (c, n, in) -> one(Activation.tanh(in[0])));
        kernels.put("Exp", (c, n, in) -> one(in[0].exp()));
        kernels.put("Clip", Operators::clip);
        kernels.put("Softmax", (c, n, in) -> one(softmax(c, n, in[0], false)));
        kernels.put("LogSoftmax", (c, n, in) -> one(softmax(c, n, in[0], true)));
        kernels.put("Gemm", Operators::gemm);
        kernels.put("MatMul", (c, n, in) -> one(in[0].matMul(in[1])));
        kernels.put("Conv", Operators::conv);
        kernels.put("MaxPool", Operators::maxPool);
        kernels.put("AveragePool", Operators::averagePool);
        kernels.put("GlobalAveragePool", Operators::globalAveragePool);
        kernels.put("GlobalMaxPool", Operators::globalMaxPool);
        kernels.put("BatchNormalization", Operators::batchNormalization);
        kernels.put("Flatten", Operators::flatten);
        kernels.put("Reshape", Operators::reshape);
        kernels.put("Transpose", Operators::transpose);
        kernels.put("Concat", Operators::concat);
        kernels.put("Dropout", Operators::dropout);
        kernels.put("Identity", (c, n, in) -> one(in[0]));
        kernels.put("Constant", Operators::constant);
        kernels.put("Shape", Operators::shape);
        kernels.put("Gather", Operators::gather);
        kernels.put("Cast", Operators::cast);
        kernels.put("Sign", Operators::sign);
        kernels.put("Sum", Operators::sum);
        kernels.put("Unsqueeze", Operators::unsqueeze);
        kernels.put("Squeeze", Operators::squeeze);
        kernels.put("Slice", Operators::slice);
        kernels.put("QuantizeLinear", FakeQuantization::quantize);
        kernels.put("DequantizeLinear", FakeQuantization::dequantize);
        KERNELS = Collections.unmodifiableMap(kernels);
    }

    private Operators() {
    }

    /** The kernel of an operator of the default domain, or null. */
    static Kernel kernel(String opType) {
        return KERNELS.get(opType);
    }

    static Set<String> supported() {
        return KERNELS.keySet();
    }

    private static NDArray[] one(NDArray array) {
        return new NDArray[] {array};
    }

    private static boolean isInteger(NDArray array) {
        DataType type = array.getDataType();
        return type.isInteger();
    }

    private static NDArray[] div(ExecutionContext context, OnnxNode node, NDArray[] in) {
        if (isInteger(in[0]) && isInteger(in[1])) {
            // ONNX integer division truncates; PyTorch's div is true division.
            return one(in[0].toType(DataType.FLOAT64, false).div(in[1].toType(DataType.FLOAT64, false)).toType(in[0].getDataType(), false));
        }
        return one(in[0].div(in[1]));
    }

    private static NDArray[] clip(ExecutionContext context, OnnxNode node, NDArray[] in) {
        float min;
        float max;
        if (context.opset() < 11) {
            min = node.getFloat("min", Float.NEGATIVE_INFINITY);
            max = node.getFloat("max", Float.POSITIVE_INFINITY);
        } else {
            min = in.length > 1 && in[1] != null ? in[1].toType(DataType.FLOAT32, false).getFloat() : Float.NEGATIVE_INFINITY;
            max = in.length > 2 && in[2] != null ? in[2].toType(DataType.FLOAT32, false).getFloat() : Float.POSITIVE_INFINITY;
        }
        NDArray x = in[0];
        if (min == Float.NEGATIVE_INFINITY && max == Float.POSITIVE_INFINITY) {
            return one(x);
        }
        if (min == Float.NEGATIVE_INFINITY) {
            return one(x.minimum(Scalars.of(x, max)));
        }
        if (max == Float.POSITIVE_INFINITY) {
            return one(x.maximum(Scalars.of(x, min)));
        }
        return one(x.clip(min, max));
    }

    /** Softmax and LogSoftmax: before opset 13 the input is coerced to 2-D at the axis (default 1); from 13 on one axis (default -1). */
    private static NDArray softmax(ExecutionContext context, OnnxNode node, NDArray x, boolean log) {
        int rank = x.getShape().dimension();
        if (context.opset() >= 13) {
            int axis = normalizeAxis(node, node.getInt("axis", -1), rank);
            return log ? x.logSoftmax(axis) : x.softmax(axis);
        }
        int axis = normalizeAxis(node, node.getInt("axis", 1), rank);
        if (axis == rank - 1) {
            return log ? x.logSoftmax(axis) : x.softmax(axis);
        }
        Shape shape = x.getShape();
        NDArray flat = x.reshape(shape.slice(0, axis).size(), shape.slice(axis).size());
        NDArray result = log ? flat.logSoftmax(1) : flat.softmax(1);
        return result.reshape(shape);
    }

    static int normalizeAxis(OnnxNode node, long axis, int rank) {
        long normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= Math.max(rank, 1)) {
            throw node.invalid("axis " + axis + " is out of range for a rank-" + rank + " input");
        }
        return (int) normalized;
    }

    private static NDArray[] gemm(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray a = node.getInt("transA", 0) != 0 ? in[0].transpose() : in[0];
        NDArray b = node.getInt("transB", 0) != 0 ? in[1].transpose() : in[1];
        float alpha = node.getFloat("alpha", 1f);
        float beta = node.getFloat("beta", 1f);
        NDArray y = a.matMul(b);
        if (alpha != 1f) {
            y = Scalars.times(y, alpha);
        }
        if (in.length > 2 && in[2] != null && beta != 0f) {
            y = y.add(beta == 1f ? in[2] : Scalars.times(in[2], beta));
        }
        return one(y);
    }

    private static NDArray[] conv(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray x = in[0];
        NDArray w = in[1];
        int spatial = w.getShape().dimension() - 2;
        if (spatial < 1 || spatial > 3) {
            throw node.unsupported(spatial + "-D convolution");
        }
        long[] kernel = node.getInts("kernel_shape").orElse(w.getShape().slice(2).getShape());
        long[] strides = node.getInts("strides").orElse(ones(spatial));
        long[] dilations = node.getInts("dilations").orElse(ones(spatial));
        long group = node.getInt("group", 1);
        Padding padding = Padding.resolve(node, x.getShape(), kernel, strides, dilations);
        if (!padding.symmetric()) {
            x = x.pad(padding.torchPadding(), 0);
        }
        NDArray bias = in.length > 2 && in[2] != null ? in[2] : context.manager().zeros(new Shape(w.getShape().get(0)), w.getDataType());
        NDList out = x.getNDArrayInternal().convolution(x, w, bias, new Shape(strides), padding.symmetricShape(),
                new Shape(dilations), (int) group);
        return one(out.singletonOrThrow());
    }

    private static NDArray[] maxPool(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray x = in[0];
        int spatial = x.getShape().dimension() - 2;
        long[] kernel = node.getInts("kernel_shape").orElseThrow(() -> node.invalid("kernel_shape is missing"));
        long[] strides = node.getInts("strides").orElse(ones(spatial));
        long[] dilations = node.getInts("dilations").orElse(ones(spatial));
        if (Arrays.stream(dilations).anyMatch(d -> d != 1)) {
            throw node.unsupported("MaxPool with dilations " + Arrays.toString(dilations));
        }
        if (node.proto().getOutputCount() > 1 && !node.proto().getOutput(1).isEmpty()) {
            throw node.unsupported("MaxPool's Indices output");
        }
        Padding padding = Padding.resolve(node, x.getShape(), kernel, strides, dilations);
        if (!padding.symmetric()) {
            x = x.pad(padding.torchPadding(), Float.NEGATIVE_INFINITY);
        }
        boolean ceil = node.getInt("ceil_mode", 0) != 0;
        return one(x.getNDArrayInternal().maxPool(new Shape(kernel), new Shape(strides), padding.symmetricShape(), ceil));
    }

    private static NDArray[] averagePool(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray x = in[0];
        int spatial = x.getShape().dimension() - 2;
        long[] kernel = node.getInts("kernel_shape").orElseThrow(() -> node.invalid("kernel_shape is missing"));
        long[] strides = node.getInts("strides").orElse(ones(spatial));
        long[] dilations = node.getInts("dilations").orElse(ones(spatial));
        if (Arrays.stream(dilations).anyMatch(d -> d != 1)) {
            throw node.unsupported("AveragePool with dilations " + Arrays.toString(dilations));
        }
        boolean countPads = node.getInt("count_include_pad", 0) != 0;
        Padding padding = Padding.resolve(node, x.getShape(), kernel, strides, dilations);
        if (!padding.symmetric()) {
            if (!countPads) {
                throw node.unsupported("AveragePool with asymmetric pads and count_include_pad=0");
            }
            x = x.pad(padding.torchPadding(), 0);
        }
        boolean ceil = node.getInt("ceil_mode", 0) != 0;
        return one(x.getNDArrayInternal().avgPool(new Shape(kernel), new Shape(strides), padding.symmetricShape(), ceil, countPads));
    }

    private static NDArray[] globalAveragePool(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray x = in[0];
        Shape shape = x.getShape();
        NDArray mean = x.reshape(shape.get(0), shape.get(1), -1).mean(new int[] {2}, true);
        return one(mean.reshape(keptShape(shape)));
    }

    private static NDArray[] globalMaxPool(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray x = in[0];
        Shape shape = x.getShape();
        NDArray max = x.reshape(shape.get(0), shape.get(1), -1).max(new int[] {2}, true);
        return one(max.reshape(keptShape(shape)));
    }

    /** [N, C, 1, 1, ...]: a global pooling's output shape. */
    private static Shape keptShape(Shape shape) {
        long[] kept = new long[shape.dimension()];
        Arrays.fill(kept, 1);
        kept[0] = shape.get(0);
        kept[1] = shape.get(1);
        return new Shape(kept);
    }

    /**
     * Training mode (unless frozen): normalise with the batch's statistics and update the running ones in place with
     * the node's momentum ({@code running = momentum * running + (1 - momentum) * batch}); inference mode and frozen
     * statistics: normalise with the running statistics.
     */
    private static NDArray[] batchNormalization(ExecutionContext context, OnnxNode node, NDArray[] in) {
        float epsilon = node.getFloat("epsilon", 1e-5f);
        float momentum = node.getFloat("momentum", 0.9f);
        boolean training = context.training() && !context.frozenBatchNormStatistics();
        if (node.getInt("spatial", 1) == 0) {
            throw node.unsupported("BatchNormalization with spatial=0");
        }
        // DJL takes the momentum as ONNX (and MXNet) define it, the weight of the old running value, and converts it
        // for PyTorch itself.
        NDList out = in[0].getNDArrayInternal().batchNorm(in[0], in[3], in[4], in[1], in[2], 1, momentum, epsilon, training);
        return one(out.get(0));
    }

    private static NDArray[] flatten(ExecutionContext context, OnnxNode node, NDArray[] in) {
        Shape shape = in[0].getShape();
        int rank = shape.dimension();
        long axis = node.getInt("axis", 1);
        int normalized = (int) (axis < 0 ? axis + rank : axis);
        if (normalized < 0 || normalized > rank) {
            throw node.invalid("axis " + axis + " is out of range for a rank-" + rank + " input");
        }
        return one(in[0].reshape(shape.slice(0, normalized).size(), shape.slice(normalized).size()));
    }

    private static NDArray[] reshape(ExecutionContext context, OnnxNode node, NDArray[] in) {
        long[] target;
        if (context.opset() < 5 || in.length < 2 || in[1] == null) {
            target = node.getInts("shape").orElseThrow(() -> node.invalid("the target shape is missing"));
        } else {
            target = in[1].toLongArray();
        }
        boolean allowZero = node.getInt("allowzero", 0) != 0;
        long[] input = in[0].getShape().getShape();
        long[] resolved = target.clone();
        for (int i = 0; i < resolved.length; i++) {
            if (resolved[i] == 0 && !allowZero) {
                if (i >= input.length) {
                    throw node.invalid("target shape " + Arrays.toString(target) + " copies dimension " + i
                            + " of a rank-" + input.length + " input");
                }
                resolved[i] = input[i];
            }
        }
        return one(in[0].reshape(new Shape(resolved)));
    }

    private static NDArray[] transpose(ExecutionContext context, OnnxNode node, NDArray[] in) {
        int rank = in[0].getShape().dimension();
        long[] perm = node.getInts("perm").orElse(null);
        if (perm == null) {
            return one(in[0].transpose());
        }
        int[] axes = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            axes[i] = normalizeAxis(node, perm[i], rank);
        }
        return one(in[0].transpose(axes));
    }

    private static NDArray[] concat(ExecutionContext context, OnnxNode node, NDArray[] in) {
        int rank = in[0].getShape().dimension();
        int axis = normalizeAxis(node, node.getInt("axis", 1), rank);
        NDList list = new NDList();
        for (NDArray array : in) {
            if (array != null) {
                list.add(array);
            }
        }
        return one(list.size() == 1 ? list.head() : NDArrays.concat(list, axis));
    }

    private static NDArray[] dropout(ExecutionContext context, OnnxNode node, NDArray[] in) {
        if (node.proto().getOutputCount() > 1 && !node.proto().getOutput(1).isEmpty()) {
            throw node.unsupported("Dropout's mask output");
        }
        if (!context.training()) {
            return one(in[0]);
        }
        float ratio;
        if (context.opset() < 12) {
            ratio = node.getFloat("ratio", 0.5f);
        } else {
            ratio = in.length > 1 && in[1] != null ? in[1].toType(DataType.FLOAT32, false).getFloat() : 0.5f;
        }
        if (ratio == 0f) {
            return one(in[0]);
        }
        return one(Dropout.dropout(in[0], ratio, true).singletonOrThrow());
    }

    private static NDArray[] constant(ExecutionContext context, OnnxNode node, NDArray[] in) {
        if (node.has("value")) {
            return one(Conversions.fromTensor(context.manager(), io.condense.sdk.tensor.Tensor.fromProto(node.attribute("value").orElseThrow().getT())));
        }
        if (node.has("value_float")) {
            return one(context.manager().create(node.getFloat("value_float", 0)));
        }
        if (node.has("value_int")) {
            return one(context.manager().create(node.getInt("value_int", 0)));
        }
        if (node.has("value_ints")) {
            return one(context.manager().create(node.getInts("value_ints").orElseThrow()));
        }
        if (node.has("value_floats")) {
            var attribute = node.attribute("value_floats").orElseThrow();
            float[] values = new float[attribute.getFloatsCount()];
            for (int i = 0; i < values.length; i++) {
                values[i] = attribute.getFloats(i);
            }
            return one(context.manager().create(values));
        }
        throw node.unsupported("a Constant without value, value_float(s) or value_int(s)");
    }

    /** Gather along an axis: the selected slices stacked in the index tensor's shape (negative indices count from the end). */
    private static NDArray[] gather(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray data = in[0];
        Shape shape = data.getShape();
        int axis = normalizeAxis(node, node.getInt("axis", 0), shape.dimension());
        long[] indices = in[1].toType(DataType.INT64, false).toLongArray();
        Shape indexShape = in[1].getShape();
        long dim = shape.get(axis);
        if (shape.dimension() == 1) {
            // a 1-D table (a k-means codebook): one vectorised take, whose gradient sums per entry (scatter-add)
            for (int i = 0; i < indices.length; i++) {
                long resolved = indices[i] < 0 ? indices[i] + dim : indices[i];
                if (resolved < 0 || resolved >= dim) {
                    throw node.invalid("index " + indices[i] + " is out of range for axis 0 of size " + dim);
                }
                indices[i] = resolved;
            }
            NDArray index = context.manager().create(indices, indexShape);
            return one(data.take(context.manager(), index).reshape(indexShape));
        }
        String prefix = ":,".repeat(axis);
        NDList slices = new NDList(indices.length);
        for (long index : indices) {
            long resolved = index < 0 ? index + dim : index;
            if (resolved < 0 || resolved >= dim) {
                throw node.invalid("index " + index + " is out of range for axis " + axis + " of size " + dim);
            }
            slices.add(data.get(prefix + resolved));
        }
        NDArray stacked = slices.size() == 1 ? slices.head().expandDims(axis) : NDArrays.stack(slices, axis);
        long[] out = new long[shape.dimension() - 1 + indexShape.dimension()];
        int k = 0;
        for (int i = 0; i < axis; i++) {
            out[k++] = shape.get(i);
        }
        for (int i = 0; i < indexShape.dimension(); i++) {
            out[k++] = indexShape.get(i);
        }
        for (int i = axis + 1; i < shape.dimension(); i++) {
            out[k++] = shape.get(i);
        }
        return one(stacked.reshape(new Shape(out)));
    }

    /**
     * Cast to the element type of {@code to} (ONNX codes): float types become float32 (float64 for double), integers
     * and bool keep their meaning; a float-to-float Cast passes gradients, integer results carry none.
     */
    private static NDArray[] cast(ExecutionContext context, OnnxNode node, NDArray[] in) {
        long to = node.getInt("to", 0);
        DataType type = switch ((int) to) {
            case 1, 10, 16 -> DataType.FLOAT32;
            case 11 -> DataType.FLOAT64;
            case 2 -> DataType.UINT8;
            case 3 -> DataType.INT8;
            case 6 -> DataType.INT32;
            case 7 -> DataType.INT64;
            case 9 -> DataType.BOOLEAN;
            default -> throw node.unsupported("Cast to ONNX element type " + to);
        };
        NDArray x = in[0];
        if (x.getDataType() == type) {
            return one(x);
        }
        if (type == DataType.BOOLEAN) {
            return one(x.neq(0));
        }
        return one(x.toType(type, false));
    }

    /**
     * Sign (-1, 0 or +1, as ONNX defines it) with a straight-through gradient clipped as hard tanh: the gradient of
     * x passes unchanged where |x| <= 1 and is zero elsewhere (BinaryConnect / BNN), so binary latent weights train.
     * The forward value is exact: sign(x) plus (clip(x) - clip(x)), the second term zero with clip's gradient.
     */
    private static NDArray[] sign(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray x = in[0];
        if (isInteger(x)) {
            return one(x.sign());
        }
        NDArray clipped = x.clip(-1f, 1f);
        return one(x.sign().stopGradient().add(clipped.sub(clipped.stopGradient())));
    }

    /** Sum of any number of inputs, broadcast as Add. */
    private static NDArray[] sum(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray total = in[0];
        for (int i = 1; i < in.length; i++) {
            total = total.add(in[i]);
        }
        return one(total);
    }

    /** The input's shape as int64, sliced by {@code start}/{@code end} (opset 15). */
    private static NDArray[] shape(ExecutionContext context, OnnxNode node, NDArray[] in) {
        long[] dims = in[0].getShape().getShape();
        int rank = dims.length;
        long start = clampIndex(node.getInt("start", 0), rank);
        long end = Math.max(start, clampIndex(node.getInt("end", rank), rank));
        return one(context.manager().create(Arrays.copyOfRange(dims, (int) start, (int) end)));
    }

    private static long[] axesOf(ExecutionContext context, OnnxNode node, NDArray[] in) {
        if (context.opset() >= 13) {
            return in.length > 1 && in[1] != null ? in[1].toLongArray() : null;
        }
        return node.getInts("axes").orElse(null);
    }

    private static NDArray[] unsqueeze(ExecutionContext context, OnnxNode node, NDArray[] in) {
        long[] axes = axesOf(context, node, in);
        if (axes == null) {
            throw node.invalid("axes are missing");
        }
        int outRank = in[0].getShape().dimension() + axes.length;
        int[] normalized = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            normalized[i] = normalizeAxis(node, axes[i], outRank);
        }
        Arrays.sort(normalized);
        NDArray x = in[0];
        for (int axis : normalized) {
            x = x.expandDims(axis);
        }
        return one(x);
    }

    private static NDArray[] squeeze(ExecutionContext context, OnnxNode node, NDArray[] in) {
        long[] axes = axesOf(context, node, in);
        if (axes == null) {
            return one(in[0].squeeze());
        }
        int rank = in[0].getShape().dimension();
        int[] normalized = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            normalized[i] = normalizeAxis(node, axes[i], rank);
        }
        return one(in[0].squeeze(normalized));
    }

    /** Slice with steps of 1 (the common case); starts/ends/axes as attributes before opset 10, inputs after. */
    private static NDArray[] slice(ExecutionContext context, OnnxNode node, NDArray[] in) {
        long[] starts;
        long[] ends;
        long[] axes;
        long[] steps = null;
        if (context.opset() < 10) {
            starts = node.getInts("starts").orElseThrow(() -> node.invalid("starts are missing"));
            ends = node.getInts("ends").orElseThrow(() -> node.invalid("ends are missing"));
            axes = node.getInts("axes").orElse(null);
        } else {
            starts = in[1].toLongArray();
            ends = in[2].toLongArray();
            axes = in.length > 3 && in[3] != null ? in[3].toLongArray() : null;
            steps = in.length > 4 && in[4] != null ? in[4].toLongArray() : null;
        }
        Shape shape = in[0].getShape();
        int rank = shape.dimension();
        long[] begin = new long[rank];
        long[] end = shape.getShape().clone();
        for (int i = 0; i < starts.length; i++) {
            int axis = normalizeAxis(node, axes == null ? i : axes[i], rank);
            if (steps != null && steps[i] != 1) {
                throw node.unsupported("Slice with step " + steps[i]);
            }
            long dim = shape.get(axis);
            begin[axis] = clampIndex(starts[i], dim);
            end[axis] = Math.max(begin[axis], clampIndex(ends[i], dim));
        }
        StringBuilder index = new StringBuilder();
        for (int axis = 0; axis < rank; axis++) {
            if (axis > 0) {
                index.append(',');
            }
            index.append(begin[axis]).append(':').append(end[axis]);
        }
        return one(in[0].get(index.toString()));
    }

    private static long clampIndex(long index, long dim) {
        long value = index < 0 ? index + dim : index;
        return Math.max(0, Math.min(dim, value));
    }

    static long[] ones(int count) {
        long[] values = new long[count];
        Arrays.fill(values, 1);
        return values;
    }
}
