package io.condense.plugin.distillation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.LeNets;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.TestStepContext;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The student derived from a teacher: width by channel pruning, depthwise separable convolutions, random init. */
class DerivedStudentTest {

    private static DerivedStudent.Derivation derive(OnnxModel teacher, double width, boolean depthwise, boolean random, long seed) {
        try (TestStepContext context = TestStepContext.builder().techniqueId(DistillTechnique.ID).build()) {
            return DerivedStudent.derive(teacher, new DerivedStudent.Options(width, depthwise, random, seed), context);
        }
    }

    private static long[] shape(OnnxModel model, String initializer) {
        return model.tensor(initializer).shape();
    }

    @Test
    void widthHalvesTheHiddenLayersOfLeNet5AndKeepsTheLast() {
        OnnxModel teacher = LeNets.leNet5(1);
        DerivedStudent.Derivation derivation = derive(teacher, 0.5, false, false, 42);
        OnnxModel student = derivation.model();

        assertThat(shape(student, "conv1.weight")).containsExactly(3, 1, 5, 5);
        assertThat(shape(student, "conv2.weight")).containsExactly(8, 3, 5, 5);
        assertThat(shape(student, "fc1.weight")).containsExactly(60, 200);
        assertThat(shape(student, "fc2.weight")).containsExactly(42, 60);
        assertThat(shape(student, "fc3.weight")).containsExactly(10, 42);
        assertThat(shape(student, "fc3.bias")).containsExactly(10);
        assertThat(derivation.narrowedLayers()).isEqualTo(5);
        assertThat(ModelStats.of(student).parameters()).isEqualTo(3 * 25 + 3 + 8 * 3 * 25 + 8 + 60 * 200 + 60 + 42 * 60 + 42 + 10 * 42 + 10);
        assertRunsLikeTheTeacher(teacher, student);
    }

    @Test
    void widthHalvesTheHiddenLayersOfLeNet300100AndKeepsTheTeachersWeights() {
        OnnxModel teacher = LeNets.leNet300100(1);
        OnnxModel student = derive(teacher, 0.5, false, false, 42).model();

        assertThat(shape(student, "fc1.weight")).containsExactly(150, 784);
        assertThat(shape(student, "fc2.weight")).containsExactly(50, 150);
        assertThat(shape(student, "fc3.weight")).containsExactly(10, 50);
        // init=teacher: every kept row of fc1 is one of the teacher's rows
        float[] teacherRows = teacher.tensor("fc1.weight").toFloatArray();
        float[] studentRows = student.tensor("fc1.weight").toFloatArray();
        float[] firstRow = Arrays.copyOfRange(studentRows, 0, 784);
        boolean found = false;
        for (int row = 0; row < 300 && !found; row++) {
            found = Arrays.equals(firstRow, Arrays.copyOfRange(teacherRows, row * 784, (row + 1) * 784));
        }
        assertThat(found).as("the student's first fc1 row is one of the teacher's").isTrue();
        assertRunsLikeTheTeacher(teacher, student);
    }

    @Test
    void depthwiseSplitsEveryConvolutionOverSeveralChannelsAndTheCountDropsAsComputed() {
        OnnxModel teacher = LeNets.leNet5(1);
        OnnxModel narrow = derive(teacher, 0.5, false, false, 42).model();
        DerivedStudent.Derivation derivation = derive(teacher, 0.5, true, false, 42);
        OnnxModel student = derivation.model();

        // conv1 reads one channel: unchanged; conv2 (3 -> 8, 5 x 5) becomes depthwise 3 x 5 x 5 and pointwise 8 x 3 plus bias
        assertThat(derivation.separableConvolutions()).isEqualTo(1);
        List<NodeProto> convolutions = student.nodes().stream().filter(n -> n.getOpType().equals("Conv")).toList();
        assertThat(convolutions).hasSize(3);
        NodeProto depthwise = convolutions.get(1);
        NodeProto pointwise = convolutions.get(2);
        assertThat(NodeAttributes.getInt(depthwise, "group", 1)).isEqualTo(3);
        assertThat(shape(student, depthwise.getInput(1))).containsExactly(3, 1, 5, 5);
        assertThat(depthwise.getInputCount()).isEqualTo(2);
        assertThat(NodeAttributes.getInt(pointwise, "group", 1)).isEqualTo(1);
        assertThat(shape(student, pointwise.getInput(1))).containsExactly(8, 3, 1, 1);
        assertThat(pointwise.getInput(0)).isEqualTo(depthwise.getOutput(0));
        assertThat(student.tensor(pointwise.getInput(2)).toFloatArray())
                .as("the pointwise bias keeps conv2's bias (init=teacher)").containsExactly(narrow.tensor("conv2.bias").toFloatArray());
        long separable = 3 * 5 * 5 + 8 * 3 + 8;
        long full = 8 * 3 * 5 * 5 + 8;
        assertThat(ModelStats.of(student).parameters()).isEqualTo(ModelStats.of(narrow).parameters() - full + separable);
        assertRunsLikeTheTeacher(teacher, student);
        // the new weights are Kaiming-uniform: within +-1/sqrt(fan in) (25 for depthwise, 3 for pointwise)
        for (float value : student.tensor(depthwise.getInput(1)).toFloatArray()) {
            assertThat(Math.abs(value)).isLessThanOrEqualTo((float) (1 / Math.sqrt(25)));
        }
    }

    @Test
    void randomInitChangesEveryWeightReproduciblyFromTheSeed() {
        OnnxModel teacher = LeNets.leNet5(1);
        OnnxModel fromTeacher = derive(teacher, 0.5, false, false, 42).model();
        DerivedStudent.Derivation first = derive(teacher, 0.5, false, true, 42);
        OnnxModel again = derive(teacher, 0.5, false, true, 42).model();
        OnnxModel otherSeed = derive(teacher, 0.5, false, true, 43).model();

        assertThat(first.reinitializedInitializers()).isEqualTo(10);
        assertThat(first.model().toBytes()).isEqualTo(again.toBytes());
        for (String name : List.of("conv1.weight", "conv2.bias", "fc1.weight", "fc3.bias")) {
            float[] random = first.model().tensor(name).toFloatArray();
            assertThat(random).as(name + " against the teacher's kept values").isNotEqualTo(fromTeacher.tensor(name).toFloatArray());
            assertThat(random).as(name + " against another seed").isNotEqualTo(otherSeed.tensor(name).toFloatArray());
            assertThat(shape(first.model(), name)).isEqualTo(shape(fromTeacher, name));
        }
        // PyTorch's bound for fc1 (fan in 200): 1/sqrt(200)
        float bound = (float) (1 / Math.sqrt(200));
        for (float value : first.model().tensor("fc1.weight").toFloatArray()) {
            assertThat(Math.abs(value)).isLessThanOrEqualTo(bound);
        }
        assertRunsLikeTheTeacher(teacher, first.model());
    }

    @Test
    void aModelWithNothingToNarrowIsRefusedSayingSo() {
        // a single Gemm produces the logits: the one layer width must leave alone
        OnnxModel single = singleLayer();
        assertThatThrownBy(() -> derive(single, 0.5, false, false, 42))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS))
                .hasMessageContaining("nothing width can narrow");
    }

    /** LeNet-300-100 cut to its last layer: Flatten, Gemm 784-10 (the logits). */
    private static OnnxModel singleLayer() {
        OnnxModel lenet = LeNets.leNet300100(1);
        ModelEditor editor = lenet.edit();
        List<NodeProto> nodes = lenet.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            if (node.getOpType().equals("Gemm") && node.getInput(1).equals("fc3.weight")) {
                editor.replaceNode(i, node.toBuilder().setInput(0, nodes.get(0).getOutput(0)).setInput(1, "fc.weight")
                        .setInput(2, "fc.bias").build());
            } else if (!node.getOpType().equals("Flatten") && !node.getOpType().equals("Identity")) {
                editor.removeNode(i);
            }
        }
        Random random = new Random(1);
        float[] weight = new float[10 * 784];
        for (int i = 0; i < weight.length; i++) {
            weight[i] = (float) random.nextGaussian() * 0.01f;
        }
        editor.putInitializer(Tensor.fromFloats("fc.weight", DataType.FLOAT,
                new long[] {10, 784}, weight).toProto());
        editor.putInitializer(Tensor.fromFloats("fc.bias", DataType.FLOAT,
                new long[] {10}, new float[10]).toProto());
        return editor.build();
    }

    /** The student opens in ONNX Runtime with the teacher's inputs and outputs and gives [n, 10] logits for n images. */
    static void assertRunsLikeTheTeacher(OnnxModel teacher, OnnxModel student) {
        Evaluator evaluator = Evaluators.fromServiceLoader();
        try (InferenceSession original = evaluator.open(teacher); InferenceSession derived = evaluator.open(student)) {
            assertThat(names(derived.inputs())).isEqualTo(names(original.inputs()));
            assertThat(names(derived.outputs())).isEqualTo(names(original.outputs()));
            for (int i = 0; i < original.inputs().size(); i++) {
                assertThat(derived.inputs().get(i).shape()).isEqualTo(original.inputs().get(i).shape());
                assertThat(derived.inputs().get(i).dataType()).isEqualTo(original.inputs().get(i).dataType());
            }
            float[] pixels = new float[3 * 28 * 28];
            Random random = new Random(7);
            for (int i = 0; i < pixels.length; i++) {
                pixels[i] = random.nextFloat();
            }
            Map<String, NdArray> outputs = derived.run(Map.of(derived.inputs().get(0).name(),
                    NdArray.ofFloats(new long[] {3, 1, 28, 28}, pixels)));
            NdArray logits = outputs.get(derived.outputs().get(0).name());
            assertThat(logits.shape()).containsExactly(3, 10);
            for (float value : logits.toFloatArray()) {
                assertThat(Float.isFinite(value)).isTrue();
            }
        }
    }

    private static List<String> names(List<ValueSpec> values) {
        return values.stream().map(ValueSpec::name).toList();
    }
}
