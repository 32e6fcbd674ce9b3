package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.sdk.coding.PackedFormat;
import io.condense.sdk.coding.PackedModel;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.cli.CondenseClient;
import io.condense.server.report.Structs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A pipeline ending in encode: the job's result blob and Download carry the packed file; a step after encode is refused. */
class EncodeIT {
    private static CondenseClient client;
    private static String model;

    @TempDir
    Path folder;

    @BeforeAll
    static void start() throws Exception {
        client = new CondenseClient(TestPlatform.get().grpcTarget());
        model = client.upload(TestEnvironment.mnist8()).getBlobId();
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    @Test
    void theResultOfAPipelineEndingInEncodeIsThePackedFile() throws Exception {
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model)
                .addSteps(step("prune", Map.of("sparsity", "0.8", "storage", "dense"))).addSteps(step("encode")).build()).getJobId();
        Jobs.events(client, jobId);
        Job job = client.job(jobId);
        assertThat(job.getState()).as(job.getError().getMessage()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        Path output = folder.resolve("mnist8.cpk");
        long bytes = client.downloadResult(jobId, output);
        byte[] packed = Files.readAllBytes(output);
        assertThat(PackedFormat.isPacked(packed)).isTrue();
        OnnxModel decoded = PackedModel.decode(packed);
        Map<String, Object> report = Structs.toMap(job.getReport());
        // the job evaluated the decoded model (the model encode returns), which has the pruned model's graph
        assertThat(decoded.graph().getNodeCount()).isPositive();
        assertThat(((Map<?, ?>) report.get("evaluation")).containsKey("skipped")).isFalse();
        assertThat(((Number) report.get("decoded_bytes")).longValue()).isEqualTo(decoded.serializedSize());
        assertThat(report.get("format")).isEqualTo("cpk");
        assertThat(((Number) report.get("compressed_bytes")).longValue()).isEqualTo(bytes);
        assertThat(((Number) report.get("ratio")).doubleValue()).isGreaterThan(2.0);
        System.out.println("prune | encode on mnist8: " + bytes + " bytes, ratio " + report.get("ratio") + ", evaluation "
                + report.get("evaluation"));
    }

    @Test
    void aStepAfterEncodeIsRefusedAtSubmit() {
        SubmitRequest request = SubmitRequest.newBuilder().setModelId(model).addSteps(step("encode")).addSteps(step("prune")).build();
        assertThatThrownBy(() -> client.submit(request)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).startsWith("INVALID_PIPELINE: ")
                    .contains("Step 1 (encode) writes a packed file").contains("must be the last step");
        });
    }
}
