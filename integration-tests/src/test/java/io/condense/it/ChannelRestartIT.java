package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.VersionState;
import io.condense.proto.v1.events.BusEvent;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.server.bus.Topics;
import io.condense.server.cli.CondenseClient;
import io.condense.server.cli.channel.ChannelClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kill -9 the server between the acknowledgement of three pushes and their compression, start it again on the same data
 * folder: every acknowledged version is compressed exactly once, watch from 0 delivers each once and in order, and the
 * version numbers go on from where they were.
 */
class ChannelRestartIT {

    @Test
    void versionsAcknowledgedBeforeAKillAreCompressedOnceAfterTheRestart(@TempDir Path data) throws Exception {
        Path plugins = TestPlatform.pluginsFolderWithTestPlugins();
        Path log = Files.createTempFile("condense-channel-restart-", ".log");
        try (ServerProcess first = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(first.grpcTarget())) {
            // each version takes 8 s in its first step: the kill comes before any is compressed
            Channels.create(client, "restart", "slow(seconds=8) | quantize(bits=8)", "", ChannelPolicy.CHANNEL_POLICY_EVERY, false);
            assertThat(Channels.pushSafetensors(client, "restart", 1, Channels.weights(2)).getVersion()).isEqualTo(1);
            assertThat(Channels.pushSafetensors(client, "restart", 2, Map.of("fc3.bias", Channels.weights(3).get("fc3.bias"))).getVersion())
                    .isEqualTo(2);
            assertThat(Channels.pushSafetensors(client, "restart", 3, Map.of("fc2.bias", Channels.weights(4).get("fc2.bias"))).getVersion())
                    .isEqualTo(3);
            assertThat(new ChannelClient(client.channel()).get("restart").getLatestCompressed()).as("compressed before the kill").isZero();
            first.kill();
        }

        try (ServerProcess second = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(second.grpcTarget())) {
            ChannelClient channels = new ChannelClient(client.channel());
            List<ChannelVersion> seen = new ArrayList<>();
            channels.watch("restart", 0, version -> seen.add(version) && version.getVersion() < 3);
            assertThat(seen).extracting(ChannelVersion::getVersion).containsExactly(1L, 2L, 3L);
            assertThat(seen).extracting(ChannelVersion::getState).containsOnly(VersionState.VERSION_STATE_COMPRESSED);

            // numbering goes on after the restart
            assertThat(Channels.pushSafetensors(client, "restart", 4, Map.of("fc1.bias", Channels.weights(5).get("fc1.bias"))).getVersion())
                    .isEqualTo(4);

            // each version's job was submitted once and completed once
            Set<String> jobs = seen.stream().map(ChannelVersion::getJobId).collect(Collectors.toSet());
            Map<String, List<BusEvent.PayloadCase>> events = new java.util.HashMap<>();
            for (ConsumerRecord<String, byte[]> record : TopicRecords.read(second.kafkaBootstrap(), Topics.EVENTS)) {
                if (jobs.contains(record.key())) {
                    events.computeIfAbsent(record.key(), key -> new ArrayList<>()).add(BusEvent.parseFrom(record.value()).getPayloadCase());
                }
            }
            assertThat(events).hasSize(3);
            events.forEach((job, payloads) -> {
                assertThat(payloads.stream().filter(p -> p == BusEvent.PayloadCase.JOB_SUBMITTED).count()).as(job).isEqualTo(1);
                assertThat(payloads.stream().filter(p -> p == BusEvent.PayloadCase.JOB_COMPLETED).count()).as(job).isEqualTo(1);
                assertThat(payloads.stream().filter(p -> p == BusEvent.PayloadCase.STEP_COMPLETED).count()).as(job).isEqualTo(2);
            });
        }
    }

    /**
     * Kill -9 the server right after a push is acknowledged, before its update is merged (the merge, the version's job and
     * its transaction follow the acknowledgement by tens of milliseconds): after the restart the update is merged into the
     * right weights (a delta onto the full push before it) and compressed once.
     */
    @Test
    void aPushAcknowledgedRightBeforeAKillIsMergedAndCompressedOnceAfterTheRestart(@TempDir Path data) throws Exception {
        Path plugins = TestPlatform.pluginsFolderWithTestPlugins();
        Path log = Files.createTempFile("condense-channel-ack-kill-", ".log");
        Map<String, Tensor> full = Channels.weights(2);
        Tensor lastBias = Channels.weights(3).get("fc3.bias");
        try (ServerProcess first = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(first.grpcTarget())) {
            Channels.create(client, "ack-kill", "quantize(bits=8)", "", ChannelPolicy.CHANNEL_POLICY_EVERY, false);
            assertThat(Channels.pushSafetensors(client, "ack-kill", 1, full).getVersion()).isEqualTo(1);
            assertThat(Channels.pushSafetensors(client, "ack-kill", 2, Map.of("fc3.bias", lastBias)).getVersion()).isEqualTo(2);
            first.kill();
        }

        try (ServerProcess second = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(second.grpcTarget())) {
            ChannelClient channels = new ChannelClient(client.channel());
            List<ChannelVersion> seen = new ArrayList<>();
            channels.watch("ack-kill", 0, version -> seen.add(version) && version.getVersion() < 2);
            assertThat(seen).extracting(ChannelVersion::getVersion).containsExactly(1L, 2L);
            assertThat(seen).extracting(ChannelVersion::getState).containsOnly(VersionState.VERSION_STATE_COMPRESSED);

            // version 2 is version 1's weights with the pushed bias (biases stay float32 through quantize)
            Path model = data.resolve("v2.onnx");
            channels.download("ack-kill", 2, model);
            OnnxModel compressed = OnnxModel.fromBytes(Files.readAllBytes(model));
            assertThat(compressed.tensor("fc3.bias").toFloatArray()).containsExactly(lastBias.toFloatArray());
            assertThat(compressed.tensor("fc2.bias").toFloatArray()).containsExactly(full.get("fc2.bias").toFloatArray());

            Map<String, Long> submitted = new java.util.HashMap<>();
            for (ConsumerRecord<String, byte[]> record : TopicRecords.read(second.kafkaBootstrap(), Topics.EVENTS)) {
                if (BusEvent.parseFrom(record.value()).hasJobSubmitted()) {
                    submitted.merge(record.key(), 1L, Long::sum);
                }
            }
            assertThat(submitted).as("one job per version").hasSize(2);
            assertThat(submitted.values()).as("each submitted once").containsOnly(1L);
        }
    }
}
