package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.OnnxModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code --input-shape NAME:1,3,640,640}: concrete shapes for model inputs with free dimensions (PaddleOCR's text
 * detector takes [?, 3, ?, ?]). The command fixes them in the copy of the model it uploads, so evaluation, calibration,
 * shape inference and MAC counts see real sizes; the written model keeps them fixed (as ONNX Runtime's
 * {@code make_dynamic_shape_fixed} does). A model whose inputs have free dimensions beyond the batch axis, with no
 * shape and no data to take them from, is refused with a message naming the input and the flag.
 */
final class InputShapes {
    private InputShapes() {
    }

    /** Parses {@code NAME:D1,D2,...} values (the name may itself contain ':'; the last one separates). */
    static Map<String, long[]> parse(List<String> values) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String value : values) {
            int colon = value.lastIndexOf(':');
            if (colon <= 0 || colon == value.length() - 1) {
                throw new IllegalArgumentException("--input-shape " + value + ": expected NAME:D1,D2,... such as x:1,3,640,640");
            }
            String[] parts = value.substring(colon + 1).split(",");
            long[] dims = new long[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    dims[i] = Long.parseLong(parts[i].trim());
                } catch (NumberFormatException e) {
                    dims[i] = -1;
                }
                if (dims[i] < 1) {
                    throw new IllegalArgumentException("--input-shape " + value + ": '" + parts[i].trim()
                            + "' is not a dimension (a whole number >= 1)");
                }
            }
            if (shapes.put(value.substring(0, colon), dims) != null) {
                throw new IllegalArgumentException("--input-shape names input '" + value.substring(0, colon) + "' twice");
            }
        }
        return shapes;
    }

    /** The model with the given inputs' dimensions fixed; every name must be a real input of that rank and fixed dimensions. */
    static OnnxModel apply(OnnxModel model, Map<String, long[]> shapes) {
        requireNonNull(model, "model is null");
        List<String> names = model.inputs().stream().map(ValueInfoProto::getName).toList();
        ModelProto.Builder proto = model.proto().toBuilder();
        for (Map.Entry<String, long[]> entry : shapes.entrySet()) {
            int position = -1;
            for (int i = 0; i < proto.getGraph().getInputCount(); i++) {
                if (proto.getGraph().getInput(i).getName().equals(entry.getKey()) && names.contains(entry.getKey())) {
                    position = i;
                }
            }
            if (position < 0) {
                throw new IllegalArgumentException("--input-shape names '" + entry.getKey() + "', which is not an input of the model; "
                        + "its inputs are " + names);
            }
            ValueInfoProto input = proto.getGraph().getInput(position);
            long[] dims = entry.getValue();
            TensorShapeProto shape = input.getType().getTensorType().getShape();
            if (input.getType().getTensorType().hasShape() && shape.getDimCount() != dims.length) {
                throw new IllegalArgumentException("--input-shape " + entry.getKey() + ":" + join(dims) + " has " + dims.length
                        + " dimensions; the input has " + shape.getDimCount() + " " + describe(shape));
            }
            TensorShapeProto.Builder fixed = TensorShapeProto.newBuilder();
            for (int i = 0; i < dims.length; i++) {
                if (i < shape.getDimCount() && shape.getDim(i).hasDimValue() && shape.getDim(i).getDimValue() != dims[i]) {
                    throw new IllegalArgumentException("--input-shape " + entry.getKey() + ":" + join(dims) + " sets dimension " + i
                            + " to " + dims[i] + " but the model fixes it at " + shape.getDim(i).getDimValue() + " " + describe(shape));
                }
                fixed.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dims[i]));
            }
            ValueInfoProto.Builder changed = input.toBuilder();
            changed.getTypeBuilder().getTensorTypeBuilder().setShape(fixed);
            proto.getGraphBuilder().setInput(position, changed);
        }
        return OnnxModel.of(proto.build());
    }

    /**
     * Why the model cannot run as it is without data: its first input with a free dimension other than the first (batch)
     * axis, named with the flag that fixes it; null when every input is concrete beyond the batch axis.
     */
    static String freeDimensionsProblem(OnnxModel model) {
        for (ValueInfoProto input : model.inputs()) {
            if (!input.getType().hasTensorType() || !input.getType().getTensorType().hasShape()) {
                continue;
            }
            TensorShapeProto shape = input.getType().getTensorType().getShape();
            List<String> example = new ArrayList<>();
            boolean free = false;
            for (int i = 0; i < shape.getDimCount(); i++) {
                TensorShapeProto.Dimension dim = shape.getDim(i);
                if (dim.hasDimValue() && dim.getDimValue() > 0) {
                    example.add(Long.toString(dim.getDimValue()));
                } else {
                    free |= i > 0;
                    example.add(i == 0 ? "1" : "N");
                }
            }
            if (free) {
                return "model input '" + input.getName() + "' has free dimensions " + describe(shape) + " and the job has no data "
                        + "to take them from: give them with --input-shape " + input.getName() + ":" + String.join(",", example)
                        + " (N = the size to evaluate at; several --input-shape for several inputs), or pass --eval-data or "
                        + "--calibration-data, or --no-evaluation";
            }
        }
        return null;
    }

    private static String describe(TensorShapeProto shape) {
        List<String> dims = new ArrayList<>();
        for (TensorShapeProto.Dimension dim : shape.getDimList()) {
            dims.add(dim.hasDimValue() ? Long.toString(dim.getDimValue()) : dim.hasDimParam() && !dim.getDimParam().isEmpty()
                    ? dim.getDimParam() : "?");
        }
        return "[" + String.join(", ", dims) + "]";
    }

    private static String join(long[] dims) {
        return Arrays.stream(dims).mapToObj(Long::toString).reduce((a, b) -> a + "," + b).orElse("");
    }
}
