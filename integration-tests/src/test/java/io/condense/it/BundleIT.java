package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import io.condense.proto.v1.BundleChunk;
import io.condense.proto.v1.BundleData;
import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.proto.v1.CompressionServiceGrpc;
import io.condense.proto.v1.DownloadRequest;
import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.UploadResult;
import io.condense.sdk.model.ExternalFiles;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.server.api.Checksums;
import io.condense.server.cli.ChunkStreams;
import io.condense.server.cli.CondenseClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model saved with external data (every tensor in {@code big.onnx.data}, small ones too) goes through the API as a bundle:
 * the command line finds the data file beside the model, the worker loads it file by file, the result comes back as a
 * model with its data file beside it and runs in ONNX Runtime; a missing data file, a file whose SHA-256 differs and a
 * chunk cut short are refused saying which file and what to do.
 */
class BundleIT {
    private static CondenseClient client;

    @TempDir
    Path folder;

    @BeforeAll
    static void start() {
        client = new CondenseClient(TestPlatform.get().grpcTarget());
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    /** mnist8 saved as big.onnx with every tensor in big.onnx.data. */
    private Path externalModel() {
        Path model = folder.resolve("in").resolve("big.onnx");
        OnnxModel.load(TestEnvironment.mnist8()).save(model, 0);
        assertThat(model.resolveSibling("big.onnx.data")).isRegularFile();
        assertThat(ExternalFiles.locations(ExternalFiles.readModelFile(model))).containsOnlyKeys("big.onnx.data");
        return model;
    }

    @Test
    void theCommandLineSendsAModelWithItsDataFileAndWritesTheResultBesideItsData() throws Exception {
        Path model = externalModel();
        Path output = folder.resolve("out").resolve("small.onnx");
        InProcessCli.Run run = InProcessCli.condense("compress", model.toString(), "--pipeline", "quantize(bits=8)", "-o",
                output.toString(), "--server", TestPlatform.get().grpcTarget());
        assertThat(run.exitCode()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("Wrote " + output).contains("with its external data in small.onnx.data");
        // the result names its data file by the name it was written under, and nothing else
        assertThat(ExternalFiles.locations(ExternalFiles.readModelFile(output))).containsOnlyKeys("small.onnx.data");
        assertThat(Files.list(output.getParent()).map(file -> file.getFileName().toString()).toList())
                .containsExactlyInAnyOrder("small.onnx", "small.onnx.data");

        float[] expected = run(TestEnvironment.mnist8());
        float[] actual = run(output);
        assertThat(argmax(actual)).isEqualTo(argmax(expected));
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as("logit " + i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(0.05f * Math.abs(expected[i]) + 0.5f));
        }
        OnnxModel result = OnnxModel.load(output);
        assertThat(result.graph().getNodeList()).anyMatch(node -> node.getOpType().equals("DequantizeLinear"));
    }

    @Test
    void aMissingDataFileIsNamedWithWhereItWasLookedFor() throws Exception {
        Path model = externalModel();
        Files.delete(model.resolveSibling("big.onnx.data"));
        Path output = folder.resolve("never.onnx");
        InProcessCli.Run run = InProcessCli.condense("compress", model.toString(), "--pipeline", "quantize(bits=8)", "-o",
                output.toString(), "--server", TestPlatform.get().grpcTarget(), "--no-evaluation");
        assertThat(run.exitCode()).as(run.out() + run.err()).isEqualTo(2);
        assertThat(run.err()).contains("'big.onnx.data'").contains(model.resolveSibling("big.onnx.data").toAbsolutePath().toString())
                .contains("beside the model");
        assertThat(output).doesNotExist();
    }

    @Test
    void aResultWithExternalDataIsDownloadedAsABundleAndDownloadSaysSo() throws Exception {
        Path model = externalModel();
        String id = client.uploadModel(model).getBlobId();
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(id).addSteps(step("prune", Map.of("sparsity", "0.5")))
                .setSkipEvaluation(true).build()).getJobId();
        Jobs.events(client, jobId);
        Job job = client.job(jobId);
        assertThat(job.getState()).as(job.getError().getMessage()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        assertThatThrownBy(() -> client.downloadResult(jobId, folder.resolve("plain.onnx")))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains("external data").contains("DownloadBundle");
                });
        var written = client.downloadResultModel(jobId, folder.resolve("pruned.onnx"));
        assertThat(written.files()).extracting(file -> file.getFileName().toString()).containsExactly("pruned.onnx", "pruned.onnx.data");
        assertThat(job.getStepResults(0).getBytesIn()).isEqualTo(Files.size(model) + Files.size(model.resolveSibling("big.onnx.data")));
        assertThat(run(folder.resolve("pruned.onnx"))).hasSize(10);
    }

    @Test
    void aFileWhoseBytesDifferFromItsAnnouncedSha256IsRefused() throws Exception {
        byte[] modelBytes = Files.readAllBytes(externalModel());
        byte[] data = Files.readAllBytes(folder.resolve("in").resolve("big.onnx.data"));
        BundleHeader header = header(modelBytes, data, sha256(Arrays.copyOf(data, data.length - 1)));
        assertRefused(messages(header, modelBytes, data), "'big.onnx.data'", "SHA-256", "send it again");
    }

    @Test
    void aChunkCutShortIsRefusedByItsChecksum() throws Exception {
        byte[] modelBytes = Files.readAllBytes(externalModel());
        byte[] data = Files.readAllBytes(folder.resolve("in").resolve("big.onnx.data"));
        List<BundleChunk> messages = messages(header(modelBytes, data, sha256(data)), modelBytes, data);
        BundleChunk last = messages.get(messages.size() - 1);
        BundleData cut = last.getData().toBuilder().setData(last.getData().getData().substring(0, last.getData().getData().size() / 2)).build();
        messages.set(messages.size() - 1, BundleChunk.newBuilder().setData(cut).build());
        assertRefused(messages, "'big.onnx.data'", "CRC32C", "cut short or corrupted", "send the bundle again");
    }

    @Test
    void aFileThatEndsEarlyAndADataFileTheBundleLacksAreRefused() throws Exception {
        byte[] modelBytes = Files.readAllBytes(externalModel());
        byte[] data = Files.readAllBytes(folder.resolve("in").resolve("big.onnx.data"));
        List<BundleChunk> messages = messages(header(modelBytes, data, sha256(data)), modelBytes, data);
        messages.remove(messages.size() - 1);
        assertRefused(messages, "'big.onnx.data' ended after", "cut short");

        BundleHeader modelOnly = BundleHeader.newBuilder().addFiles(header(modelBytes, data, sha256(data)).getFiles(0)).build();
        assertRefused(messages(modelOnly, modelBytes, new byte[0]), "big.onnx.data", "no such file", "bundle");
    }

    @Test
    void aPlainUploadCannotMakeAManifestNamingOtherBlobs() throws Exception {
        byte[] modelBytes = Files.readAllBytes(externalModel());
        byte[] data = Files.readAllBytes(folder.resolve("in").resolve("big.onnx.data"));
        byte[] manifest = header(modelBytes, data, sha256(data)).toByteArray();
        byte[] forged = new byte[16 + manifest.length];
        System.arraycopy("condense-bundle\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, forged, 0, 16);
        System.arraycopy(manifest, 0, forged, 16, manifest.length);
        assertThatThrownBy(() -> client.upload(forged)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains("UploadBundle");
        });
    }

    private static void assertRefused(List<BundleChunk> messages, String... parts) throws Exception {
        assertThatThrownBy(() -> upload(messages)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains(parts);
        });
    }

    private static BundleHeader header(byte[] model, byte[] data, String dataSha256) throws Exception {
        return BundleHeader.newBuilder()
                .addFiles(BundleFile.newBuilder().setName("big.onnx").setSize(model.length).setSha256(sha256(model)))
                .addFiles(BundleFile.newBuilder().setName("big.onnx.data").setSize(data.length).setSha256(dataSha256))
                .build();
    }

    /** The header, the model in one chunk, the data in chunks of 4 KiB. */
    private static List<BundleChunk> messages(BundleHeader header, byte[] model, byte[] data) {
        List<BundleChunk> messages = new ArrayList<>();
        messages.add(BundleChunk.newBuilder().setHeader(header).build());
        messages.add(chunk(0, 0, model));
        for (int offset = 0; offset < data.length && header.getFilesCount() > 1; offset += 4096) {
            messages.add(chunk(1, offset, Arrays.copyOfRange(data, offset, Math.min(data.length, offset + 4096))));
        }
        return messages;
    }

    private static BundleChunk chunk(int file, long offset, byte[] bytes) {
        return BundleChunk.newBuilder().setData(BundleData.newBuilder().setFile(file).setOffset(offset)
                .setData(ByteString.copyFrom(bytes)).setCrc32C(Checksums.crc32c(bytes))).build();
    }

    private static UploadResult upload(List<BundleChunk> messages) throws Exception {
        var each = messages.iterator();
        return ChunkStreams.call(CompressionServiceGrpc.newStub(client.channel())::uploadBundle, () -> each.hasNext() ? each.next() : null);
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** The model's output in ONNX Runtime (from its file, data files beside it) on the mnist8 reference input. */
    private static float[] run(Path model) throws Exception {
        TensorProto input = TensorProto.parseFrom(Files.readAllBytes(TestEnvironment.mnist8().resolveSibling("test_data_set_0/input_0.pb")));
        float[] values = Tensor.fromProto(input).toFloatArray();
        long[] shape = input.getDimsList().stream().mapToLong(Long::longValue).toArray();
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession session = environment.createSession(model.toString(), new OrtSession.SessionOptions());
                OnnxTensor tensor = OnnxTensor.createTensor(environment, FloatBuffer.wrap(values), shape);
                OrtSession.Result result = session.run(Map.of(session.getInputNames().iterator().next(), tensor))) {
            float[][] output = (float[][]) result.get(0).getValue();
            return output[0];
        }
    }

    private static int argmax(float[] values) {
        return java.util.stream.IntStream.range(0, values.length).reduce((a, b) -> values[b] > values[a] ? b : a).orElseThrow();
    }
}
