package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.condense.proto.v1.Channel;
import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.VersionState;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npz;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.LeNets;
import io.condense.server.cli.CondenseClient;
import io.condense.server.cli.channel.ChannelClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Channels on the embedded platform with the real plugins: pushes of LeNet-300-100 weights in each format become versions
 * that watchers receive as runnable models; bad updates are refused and the channel keeps its last good version; the
 * gate rejects a version below it; latest-wins supersedes versions that waited.
 */
class ChannelsIT {
    private static CondenseClient client;
    private static ChannelClient channels;

    @BeforeAll
    static void connect() {
        client = new CondenseClient(TestPlatform.get().grpcTarget());
        channels = new ChannelClient(client.channel());
    }

    @AfterAll
    static void close() {
        client.close();
    }

    @Test
    void pushesInEveryFormatArriveAsRunnableVersions(@TempDir Path folder) throws Exception {
        Channels.create(client, "it-roundtrip", "prune(sparsity=0.5) | quantize(bits=8)", "", ChannelPolicy.CHANNEL_POLICY_EVERY, false);
        Map<String, Tensor> full = Channels.weights(2);
        assertThat(Channels.pushSafetensors(client, "it-roundtrip", 100, full).getVersion()).isEqualTo(1);
        Tensor fc3 = Channels.weights(3).get("fc3.weight");
        Path delta = folder.resolve("delta.npz");
        Npz.write(delta, Map.of("fc3.weight", NdArray.ofFloats(fc3.shape(), fc3.toFloatArray())));
        var second = Channels.push(client, "it-roundtrip", 200, Files.readAllBytes(delta));
        assertThat(second.getVersion()).isEqualTo(2);
        assertThat(second.getTensorsList()).containsExactly("fc3.weight");
        assertThat(Channels.push(client, "it-roundtrip", 300, LeNets.leNet300100(4).toBytes()).getVersion()).isEqualTo(3);

        Path deployed = folder.resolve("deployed");
        InProcessCli.Run watch = InProcessCli.condense("channel", "watch", "it-roundtrip", "--from", "0", "--until", "3", "-o",
                deployed.toString(), "--server", TestPlatform.get().grpcTarget());
        assertThat(watch.exitCode()).as(watch.out() + watch.err()).isZero();
        assertThat(watch.out().lines().toList()).hasSize(3).allMatch(line -> line.contains("COMPRESSED"));
        try (OrtEnvironment environment = OrtEnvironment.getEnvironment()) {
            for (int version = 1; version <= 3; version++) {
                Path model = deployed.resolve("it-roundtrip-v" + version + ".onnx");
                assertThat(deployed.resolve("it-roundtrip-v" + version + ".json")).content().contains("VERSION_STATE_COMPRESSED");
                try (OrtSession session = environment.createSession(model.toString(), new OrtSession.SessionOptions());
                        OnnxTensor input = OnnxTensor.createTensor(environment, FloatBuffer.wrap(new float[784]), new long[] {1, 1, 28, 28});
                        OrtSession.Result result = session.run(Map.of("image", input))) {
                    assertThat(((float[][]) result.get(0).getValue())[0]).hasSize(10);
                }
            }
        }

        // the delta was merged into version 1's weights: fc3 from the delta, fc1 from version 1
        ChannelVersion v2 = channels.get("it-roundtrip").getVersions(1);
        OnnxModel merged = OnnxModel.fromBytes(client.downloadBlob(v2.getWeightsModelId()));
        assertThat(merged.tensor("fc3.weight").toFloatArray()).containsExactly(fc3.toFloatArray());
        assertThat(merged.tensor("fc1.weight").toFloatArray()).containsExactly(full.get("fc1.weight").toFloatArray());
        assertThat(v2.getStep()).isEqualTo(200);

        InProcessCli.Run status = InProcessCli.condense("channel", "status", "it-roundtrip", "--server", TestPlatform.get().grpcTarget());
        assertThat(status.out()).contains("3 pushed, newest compressed v3, 0 waiting").contains("v3");
    }

    @Test
    void badUpdatesAreRefusedAndTheChannelKeepsItsLastGoodVersion() {
        Channels.create(client, "it-bad", "quantize(bits=8)", "", ChannelPolicy.CHANNEL_POLICY_EVERY, false);
        Map<String, Tensor> good = Channels.weights(6);
        assertThat(Channels.pushSafetensors(client, "it-bad", 1, good).getVersion()).isEqualTo(1);

        float[] nan = good.get("fc2.weight").toFloatArray();
        nan[17] = Float.NaN;
        float[] infinite = good.get("fc3.bias").toFloatArray();
        infinite[3] = Float.POSITIVE_INFINITY;
        Map<String, Map<String, Tensor>> bad = new LinkedHashMap<>();
        bad.put("fc9.weight", Map.of("fc9.weight", good.get("fc1.bias").withName("fc9.weight")));
        bad.put("fc1.weight", Map.of("fc1.weight", Tensor.fromFloats("fc1.weight", DataType.FLOAT, new long[] {10, 784}, new float[7840])));
        bad.put("fc1.bias", Map.of("fc1.bias", Tensor.fromInts("fc1.bias", DataType.INT32, new long[] {300}, new int[300])));
        bad.put("fc2.weight", Map.of("fc2.weight", Tensor.fromFloats("fc2.weight", DataType.FLOAT, good.get("fc2.weight").shape(), nan)));
        bad.put("fc3.bias", Map.of("fc3.bias", Tensor.fromFloats("fc3.bias", DataType.FLOAT, new long[] {10}, infinite)));
        List<String> messages = new ArrayList<>();
        bad.forEach((tensor, update) -> assertThatThrownBy(() -> Channels.pushSafetensors(client, "it-bad", 2, update))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).contains("'" + tensor + "'");
                    messages.add(e.getStatus().getDescription());
                }));
        assertThat(messages).anyMatch(m -> m.contains("NaN")).anyMatch(m -> m.contains("Infinity")).anyMatch(m -> m.contains("shape"))
                .anyMatch(m -> m.contains("INT32"));
        assertThatThrownBy(() -> Channels.push(client, "it-bad", 2, "not weights at all".getBytes()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));

        Channel channel = channels.get("it-bad");
        assertThat(channel.getLatestVersion()).isEqualTo(1);
        // the next good delta is version 2 and merges with version 1, not with anything refused
        Tensor bias = Channels.weights(7).get("fc3.bias");
        assertThat(Channels.pushSafetensors(client, "it-bad", 3, Map.of("fc3.bias", bias)).getVersion()).isEqualTo(2);
        List<ChannelVersion> seen = new ArrayList<>();
        channels.watch("it-bad", 0, version -> seen.add(version) && version.getVersion() < 2);
        assertThat(seen).extracting(ChannelVersion::getState).containsExactly(VersionState.VERSION_STATE_COMPRESSED, VersionState.VERSION_STATE_COMPRESSED);
        OnnxModel merged = OnnxModel.fromBytes(client.downloadBlob(seen.get(1).getWeightsModelId()));
        assertThat(merged.tensor("fc2.weight").toFloatArray()).containsExactly(good.get("fc2.weight").toFloatArray());
        assertThat(merged.tensor("fc3.bias").toFloatArray()).containsExactly(bias.toFloatArray());
    }

    @Test
    void theGateRejectsAVersionBelowItAndWatchSaysSo() {
        Channels.create(client, "it-gate", "quantize(bits=8)", "accuracy>=0.85", ChannelPolicy.CHANNEL_POLICY_LATEST, true);
        // untrained weights: about one digit in ten right
        Channels.pushSafetensors(client, "it-gate", 10, Channels.weights(8));
        InProcessCli.Run watch = InProcessCli.condense("channel", "watch", "it-gate", "--until", "1", "--server", TestPlatform.get().grpcTarget());
        assertThat(watch.exitCode()).as(watch.err()).isZero();
        assertThat(watch.out()).contains("v1  REJECTED").contains("accuracy=").contains("the gate accuracy>=0.85 failed");
        ChannelVersion version = channels.get("it-gate").getVersions(0);
        assertThat(version.getFiguresMap().get("accuracy")).isLessThan(0.85);
        // a gate on accuracy without labelled evaluation data is refused when the channel is created
        assertThatThrownBy(() -> Channels.create(client, "it-gate-nolabels", "quantize(bits=8)", "accuracy>=0.85",
                ChannelPolicy.CHANNEL_POLICY_LATEST, false))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getDescription()).contains("DATA_REQUIRED")
                        .contains("needs accuracy"));
    }

    @Test
    void latestWinsSupersedesVersionsThatWaited() {
        Channels.create(client, "it-latest", "slow(seconds=3) | quantize(bits=8)", "", ChannelPolicy.CHANNEL_POLICY_UNSPECIFIED, false);
        for (int step = 1; step <= 4; step++) {
            Channels.pushSafetensors(client, "it-latest", step, Map.of("fc3.bias", Channels.weights(step + 10L).get("fc3.bias")));
        }
        List<ChannelVersion> seen = new ArrayList<>();
        channels.watch("it-latest", 0, version -> seen.add(version) && version.getVersion() < 4);
        assertThat(seen).extracting(ChannelVersion::getVersion).containsExactly(1L, 2L, 3L, 4L);
        assertThat(seen.get(3).getState()).isEqualTo(VersionState.VERSION_STATE_COMPRESSED);
        assertThat(seen.subList(1, 3)).extracting(ChannelVersion::getState).contains(VersionState.VERSION_STATE_SUPERSEDED);
        assertThat(seen).filteredOn(v -> v.getState() == VersionState.VERSION_STATE_SUPERSEDED)
                .allMatch(v -> v.getReason().startsWith("superseded by version"));
    }
}
