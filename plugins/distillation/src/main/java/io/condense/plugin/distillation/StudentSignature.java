package io.condense.plugin.distillation;

import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.tensor.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Whether a given student can learn from the teacher: the same inputs (count, element types and shapes without the batch
 * dimension) and as many values per sample in its first output as the teacher's first output (the logits the loss
 * compares). Input names may differ: the training runtime feeds each model its own input.
 */
final class StudentSignature {
    private StudentSignature() {
    }

    /** @throws CondenseException INVALID_PARAMETER saying every difference */
    static void check(OnnxModel teacher, OnnxModel student, String studentId) {
        List<String> differences = new ArrayList<>();
        List<ValueInfoProto> teacherInputs = dataInputs(teacher);
        List<ValueInfoProto> studentInputs = dataInputs(student);
        if (teacherInputs.size() != studentInputs.size()) {
            differences.add("the student has " + studentInputs.size() + " inputs and the teacher " + teacherInputs.size());
        } else {
            for (int i = 0; i < teacherInputs.size(); i++) {
                compareInput(teacherInputs.get(i), studentInputs.get(i), differences);
            }
        }
        if (student.outputs().isEmpty()) {
            differences.add("the student has no output");
        } else {
            OptionalLong teacherValues = valuesPerSample(teacher);
            OptionalLong studentValues = valuesPerSample(student);
            if (teacherValues.isPresent() && studentValues.isPresent() && teacherValues.getAsLong() != studentValues.getAsLong()) {
                differences.add("the student's output '" + student.outputs().get(0).getName() + "' has " + studentValues.getAsLong()
                        + " values per sample and the teacher's '" + teacher.outputs().get(0).getName() + "' "
                        + teacherValues.getAsLong());
            }
        }
        if (!differences.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the student " + studentId + " does not fit the teacher: "
                    + String.join("; ", differences) + ". A student takes the teacher's inputs and has as many outputs per "
                    + "sample (classes) as the teacher");
        }
    }

    private static void compareInput(ValueInfoProto teacher, ValueInfoProto student, List<String> differences) {
        String label = "input '" + student.getName() + "' (the teacher's '" + teacher.getName() + "')";
        int teacherType = teacher.getType().getTensorType().getElemType();
        int studentType = student.getType().getTensorType().getElemType();
        if (teacherType != studentType) {
            differences.add(label + " is " + typeName(studentType) + " and the teacher's " + typeName(teacherType));
        }
        List<String> teacherDims = sampleDims(teacher);
        List<String> studentDims = sampleDims(student);
        if (teacherDims.size() != studentDims.size()) {
            differences.add(label + " has shape " + shape(student) + " and the teacher's " + shape(teacher));
            return;
        }
        for (int i = 0; i < teacherDims.size(); i++) {
            String a = teacherDims.get(i);
            String b = studentDims.get(i);
            if (isNumber(a) && isNumber(b) && !a.equals(b)) {
                differences.add(label + " has shape " + shape(student) + " and the teacher's " + shape(teacher));
                return;
            }
        }
    }

    /** Graph inputs that are not initializers (older exports list initializers as inputs too). */
    private static List<ValueInfoProto> dataInputs(OnnxModel model) {
        List<ValueInfoProto> inputs = new ArrayList<>();
        for (ValueInfoProto input : model.inputs()) {
            if (!model.isInitializer(input.getName())) {
                inputs.add(input);
            }
        }
        return inputs;
    }

    /** The product of the first output's dimensions after the batch, when its shape is known. */
    static OptionalLong valuesPerSample(OnnxModel model) {
        String name = model.outputs().get(0).getName();
        Optional<long[]> shape = ShapeInference.of(model).shape(name);
        if (shape.isEmpty() || shape.get().length == 0) {
            return OptionalLong.empty();
        }
        long product = 1;
        for (int i = 1; i < shape.get().length; i++) {
            if (shape.get()[i] <= 0) {
                return OptionalLong.empty();
            }
            product *= shape.get()[i];
        }
        return OptionalLong.of(product);
    }

    private static List<String> sampleDims(ValueInfoProto value) {
        List<String> dims = new ArrayList<>();
        List<TensorShapeProto.Dimension> all = value.getType().getTensorType().getShape().getDimList();
        for (int i = 1; i < all.size(); i++) {
            TensorShapeProto.Dimension dim = all.get(i);
            dims.add(dim.hasDimValue() ? Long.toString(dim.getDimValue()) : dim.getDimParam());
        }
        return dims;
    }

    private static String shape(ValueInfoProto value) {
        List<String> dims = new ArrayList<>();
        for (TensorShapeProto.Dimension dim : value.getType().getTensorType().getShape().getDimList()) {
            dims.add(dim.hasDimValue() ? Long.toString(dim.getDimValue()) : dim.getDimParam().isEmpty() ? "?" : dim.getDimParam());
        }
        return dims.toString();
    }

    private static boolean isNumber(String dim) {
        return !dim.isEmpty() && dim.chars().allMatch(Character::isDigit);
    }

    private static String typeName(int code) {
        return DataType.isSupported(code) ? DataType.fromOnnx(code).name().toLowerCase(java.util.Locale.ROOT) : "type " + code;
    }
}
