package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.StepResult;
import io.condense.proto.v1.events.JobCompleted;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The end of a job (statistics, evaluation, report) turns anything thrown, errors included, into a typed failure that
 * names the stage: before, an OutOfMemoryError in the evaluation escaped and ended the worker thread.
 */
class JobFinisherTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    @TempDir
    Path folder;

    private JobCompleted finish(Evaluator evaluator) throws Exception {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        byte[] bytes = Files.readAllBytes(MNIST);
        BlobId modelId = blobs.put(bytes);
        OnnxModel model = OnnxModel.fromBytes(bytes);
        Supplier<Optional<Evaluator>> evaluators = () -> Optional.of(evaluator);
        JobFinisher finisher = new JobFinisher(blobs, new BlobDatasets(blobs), evaluators, folder.resolve("scratch"));
        StepRequested request = StepRequested.newBuilder().setJobId("job-1").setStepIndex(0).setInputModelId(modelId.hex())
                .setSpec(JobSpec.newBuilder().setModelId(modelId.hex()).addSteps(PipelineStep.newBuilder().setTechnique("copy")))
                .build();
        StepResult result = StepResult.newBuilder().setStep(1).setTechnique("copy").setOutputModelId(modelId.hex())
                .setBytesIn(bytes.length).setBytesOut(bytes.length).build();
        return finisher.finish(request, new StepExecution.Completed(result, model, model));
    }

    /** An evaluator whose comparison throws what it is given. */
    private static Evaluator throwing(Throwable failure) {
        return new Evaluator() {
            @Override
            public InferenceSession open(OnnxModel model) {
                throw new UnsupportedOperationException();
            }

            @Override
            public EvaluationResult compare(OnnxModel original, OnnxModel candidate, EvaluationRequest request) {
                if (failure instanceof RuntimeException runtime) {
                    throw runtime;
                }
                throw (Error) failure;
            }
        };
    }

    @Test
    void runningOutOfMemoryInTheEvaluationIsResourceExhaustedBlamedOnTheEvaluation() {
        assertThatThrownBy(() -> finish(throwing(new OutOfMemoryError("Java heap space"))))
                .isInstanceOfSatisfying(JobFinisher.EndFailure.class, e -> {
                    assertThat(e.stage()).isEqualTo("evaluation");
                    assertThat(e.error().code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
                    assertThat(e.error().getMessage()).startsWith("the evaluation of the result in ONNX Runtime ran out of memory")
                            .contains("Java heap space");
                });
    }

    @Test
    void anyOtherThrowableIsAnInternalErrorOfTheStageNotOfTheThread() {
        assertThatThrownBy(() -> finish(throwing(new AssertionError("broken invariant"))))
                .isInstanceOfSatisfying(JobFinisher.EndFailure.class, e -> {
                    assertThat(e.stage()).isEqualTo("evaluation");
                    assertThat(e.error().code()).isEqualTo(ErrorCode.INTERNAL_ERROR);
                    assertThat(e.error().getMessage()).contains("broken invariant");
                });
        assertThatThrownBy(() -> finish(throwing(new ArithmeticException("integer overflow"))))
                .isInstanceOfSatisfying(JobFinisher.EndFailure.class, e -> assertThat(e.error().code()).isEqualTo(ErrorCode.INTERNAL_ERROR));
    }

    @Test
    void aTypedEvaluationErrorKeepsItsCodeAndSaysItCameAfterTheLastStep() {
        assertThatThrownBy(() -> finish(throwing(new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "input 'x' is too large"))))
                .isInstanceOfSatisfying(JobFinisher.EndFailure.class, e -> {
                    assertThat(e.stage()).isEqualTo("evaluation");
                    assertThat(e.error().code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
                    assertThat(e.error().getMessage()).isEqualTo(
                            "the evaluation of the result in ONNX Runtime failed after the last step: input 'x' is too large");
                });
    }

    @Test
    void aWorkingEvaluatorEndsTheJob() throws Exception {
        EvaluationResult same = new EvaluationResult(32, OptionalDouble.empty(), OptionalDouble.empty(), 1.0, Double.POSITIVE_INFINITY, 1.0,
                OptionalDouble.empty(), OptionalDouble.empty());
        JobCompleted completed = finish(new Evaluator() {
            @Override
            public InferenceSession open(OnnxModel model) {
                throw new UnsupportedOperationException();
            }

            @Override
            public EvaluationResult compare(OnnxModel original, OnnxModel candidate, EvaluationRequest request) {
                return same;
            }
        });
        assertThat(completed.getReportId()).hasSize(64);
    }
}
