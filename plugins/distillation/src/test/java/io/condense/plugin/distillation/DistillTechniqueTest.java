package io.condense.plugin.distillation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.LeNets;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.testkit.Trainers;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * distill end to end in the host's trainer on a Fashion-MNIST subset: a LeNet-5 teacher trained here for six epochs on
 * 4,000 images teaches a student of half its width, measured on 1,000 test images in ONNX Runtime. Whether distillation
 * beats the labels alone is a benchmark's question (noisy on this little data), not asserted here.
 */
class DistillTechniqueTest {
    private static final int TRAIN_SAMPLES = 4000;
    private static final int TEST_SAMPLES = 1000;
    private static Trainer trainer;
    private static Dataset train;
    private static Dataset test;
    private static OnnxModel teacher;

    @BeforeAll
    static void trainTheTeacher() {
        train = FashionMnist.split("train", TRAIN_SAMPLES);
        test = FashionMnist.split("t10k", TEST_SAMPLES);
        trainer = Trainers.fromServiceLoader();
        teacher = trainer.train(TrainingRequest.builder(LeNets.leNet5(1), train).optimizer(Optimizer.sgd(0.9, 0))
                .schedule(new LearningRateSchedule.Cosine(0.05, 0)).epochs(6).batchSize(64).seed(1).build()).model();
    }

    private static TestStepContext.Builder context(Map<String, String> parameters) {
        return TestStepContext.builder().technique(new DistillTechnique(), parameters).trainingData(train).trainer(trainer);
    }

    private static TechniqueResult distill(OnnxModel model, Map<String, String> parameters, Consumer<TestStepContext.Builder> setup) {
        TestStepContext.Builder builder = context(parameters);
        setup.accept(builder);
        try (TestStepContext context = builder.build()) {
            return new DistillTechnique().apply(model, context.parameters(), context);
        }
    }

    @Test
    void aHalfWidthStudentLearnsFromTheTeacherAndComparesWithTheLabelsAlone() {
        TechniqueResult result = distill(teacher, Map.of("epochs", "3", "lr", "0.05", "compare", "true", "validation", "0.1"),
                builder -> builder.evaluationData(test));
        OnnxModel student = result.model();
        Map<String, Object> report = result.report().values();

        DerivedStudentTest.assertRunsLikeTheTeacher(teacher, student);
        double onnxRuntime = Evaluators.fromServiceLoader().compare(teacher, student, EvaluationRequest.of(test, TEST_SAMPLES))
                .accuracyAfter().orElseThrow();
        assertThat(onnxRuntime).as("the student's accuracy on 1,000 test images in ONNX Runtime (chance is 0.1)").isGreaterThan(0.6);
        assertThat(report).containsEntry("student", "derived").containsEntry("width", 0.5).containsEntry("depthwise", false)
                .containsEntry("init", "teacher").containsEntry("temperature", 4.0).containsEntry("alpha", 0.5)
                .containsEntry("loss", "distillation").containsEntry("epochs", 3).containsEntry("schedule", "cosine")
                .containsEntry("accuracy_measured_on", "evaluation").containsEntry("accuracy_measured_by", "onnxruntime")
                .containsEntry("student_accuracy", onnxRuntime).containsEntry("accuracy_distilled", onnxRuntime)
                .containsKeys("teacher_parameters", "teacher_bytes", "student_parameters", "student_bytes", "params_ratio",
                        "teacher_accuracy", "teacher_agreement", "accuracy_labels_only", "distillation_gain", "history",
                        "history_labels_only", "training_samples", "validation_samples");
        assertThat((long) report.get("teacher_parameters")).isEqualTo(61_706L);
        assertThat((double) report.get("params_ratio")).isBetween(0.2, 0.3);
        assertThat((double) report.get("teacher_accuracy")).isGreaterThan(0.7);
        assertThat((double) report.get("accuracy_labels_only")).isGreaterThan(0.6);
        assertThat((double) report.get("distillation_gain")).isEqualTo(
                (double) report.get("accuracy_distilled") - (double) report.get("accuracy_labels_only"));
        assertThat((List<?>) report.get("history")).hasSize(3);
        assertThat((List<?>) report.get("history_labels_only")).hasSize(3);
        assertThat(result.report().layers()).hasSize(5);
    }

    @Test
    void aDepthwiseRandomStudentTrainsOnTheLabelsAloneWhenAlphaIsZero() {
        // conv1 weight and bias, depthwise weight, pointwise weight and bias, fc1 to fc3 weights and biases: 11 re-initialised
        TechniqueResult result = distill(teacher, Map.of("depthwise", "true", "init", "random", "alpha", "0", "epochs", "1",
                "lr", "0.05", "validation", "0.2"), builder -> builder.trainingData(train.head(1000)));
        assertThat(result.report().values()).containsEntry("loss", "cross_entropy").containsEntry("separable_convolutions", 1)
                .containsEntry("reinitialized_initializers", 11).containsEntry("accuracy_measured_on", "validation")
                .containsKeys("teacher_accuracy", "student_accuracy");
        DerivedStudentTest.assertRunsLikeTheTeacher(teacher, result.model());
    }

    @Test
    void aGivenStudentLearnsAndAMismatchingOneIsRefused() {
        Dataset small = train.head(1000);
        OnnxModel given = LeNets.leNet300100(3);
        TechniqueResult result;
        try (TestStepContext context = context(Map.of("student", "mlp-1", "epochs", "3", "lr", "0.05", "validation", "0.2"))
                .trainingData(small).uploadedModel("mlp-1", given).build()) {
            result = new DistillTechnique().apply(teacher, context.parameters(), context);
        }
        assertThat(result.report().values()).containsEntry("student", "given").containsEntry("student_id", "mlp-1")
                .containsEntry("student_parameters", 266_610L).containsEntry("accuracy_measured_on", "validation")
                .doesNotContainKey("width");
        assertThat((double) result.report().values().get("student_accuracy")).isGreaterThan(0.5);
        assertThat(result.model().tensor("fc1.weight").shape()).containsExactly(300, 784);

        OnnxModel fiveClasses = withClasses(given, 5);
        assertThatThrownBy(() -> distill(teacher, Map.of("student", "mlp-5"), b -> b.uploadedModel("mlp-5", fiveClasses)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("mlp-5").hasMessageContaining("5 values per sample").hasMessageContaining("'logits' 10");
    }

    @Test
    void refusesWhatItCannotDo() {
        assertThatThrownBy(() -> distill(teacher, Map.of("student", "mlp-1", "width", "0.25", "init", "random"),
                b -> b.uploadedModel("mlp-1", LeNets.leNet300100(3))))
                .isInstanceOfSatisfying(InvalidParametersException.class, e -> assertThat(e.problems()).hasSize(2))
                .hasMessageContaining("width").hasMessageContaining("init").hasMessageContaining("student=derived");
        assertThatThrownBy(() -> distill(teacher, Map.of("student", "nobody"), b -> { }))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("nobody");
        assertThatThrownBy(() -> distill(withLastOp(LeNets.leNet300100(1), "Erf"), Map.of(), b -> { }))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageContaining("teacher").hasMessageContaining("Erf");
        try (TestStepContext context = TestStepContext.builder().technique(new DistillTechnique(), Map.of()).trainer(trainer).build()) {
            Parameters parameters = context.parameters();
            assertThatThrownBy(() -> new DistillTechnique().apply(teacher, parameters, context))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.DATA_REQUIRED))
                    .hasMessageContaining("--train-data").hasMessageContaining("--train-labels");
        }
    }

    /** The model with its last layer cut to {@code classes} outputs. */
    private static OnnxModel withClasses(OnnxModel model, int classes) {
        long[] shape = model.tensor("fc3.weight").shape();
        float[] weight = model.tensor("fc3.weight").toFloatArray();
        float[] kept = java.util.Arrays.copyOf(weight, Math.toIntExact(classes * shape[1]));
        return model.edit()
                .putInitializer(Tensor.fromFloats("fc3.weight", DataType.FLOAT, new long[] {classes, shape[1]}, kept).toProto())
                .putInitializer(Tensor.fromFloats("fc3.bias", DataType.FLOAT, new long[] {classes}, new float[classes]).toProto())
                .build();
    }

    /** The model with the Identity that writes its output replaced by another single-input operator. */
    private static OnnxModel withLastOp(OnnxModel model, String op) {
        ModelEditor editor = model.edit();
        List<NodeProto> nodes = model.nodes();
        int last = nodes.size() - 1;
        editor.replaceNode(last, nodes.get(last).toBuilder().setOpType(op).build());
        return editor.build();
    }
}
