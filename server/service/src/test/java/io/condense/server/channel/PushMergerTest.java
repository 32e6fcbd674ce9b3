package io.condense.server.channel;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.VersionState;
import io.condense.proto.v1.WeightsFormat;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.weights.Safetensors;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.job.JobView;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the channel sequencer writes for a push, on the shared MNIST model. */
class PushMergerTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    @TempDir
    Path folder;

    private BlobStore blobs;
    private final ChannelView view = new ChannelView(new SimpleMeterRegistry());
    private final JobView jobs = new JobView();
    private PushMerger merger;
    private OnnxModel base;
    private InitializerInfo target;

    @BeforeEach
    void channel() throws Exception {
        blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        byte[] bytes = Files.readAllBytes(MNIST);
        base = OnnxModel.fromBytes(bytes);
        target = base.initializers().stream().filter(info -> info.dataType() == DataType.FLOAT && !info.sparse()).findFirst().orElseThrow();
        String baseId = blobs.put(bytes).hex();
        view.onChannelState("mlp", ChannelState.newBuilder().setChannelId("c1").setName("mlp").setModelId(baseId).setLatestWeightsModelId(baseId)
                .addSteps(PipelineStep.newBuilder().setTechnique("quantize")).setPolicy(ChannelPolicy.CHANNEL_POLICY_LATEST).build(), true);
        merger = new PushMerger(blobs, view);
    }

    /** The target initializer filled with one value, pushed (acknowledged) as {@code version}. */
    private ChannelPush push(long version, float value) {
        float[] values = new float[Math.toIntExact(target.elements())];
        Arrays.fill(values, value);
        byte[] update = Safetensors.toBytes(Map.of(target.name(), Tensor.fromFloats(target.name(), DataType.FLOAT, target.shape(), values)));
        ChannelPush push = ChannelPush.newBuilder().setChannelId("c1").setChannel("mlp").setVersion(version).setStep(version * 10)
                .setFormat(WeightsFormat.WEIGHTS_FORMAT_SAFETENSORS).setUpdateId(blobs.put(update).hex()).addTensors(target.name())
                .setPushedAtMs(1000 + version).build();
        view.onChannelPush(push, true);
        return push;
    }

    private static SequencedVersion only(List<SequencedVersion> versions) {
        assertThat(versions).hasSize(1);
        return versions.get(0);
    }

    private float mergedValue(SequencedVersion version) {
        OnnxModel merged = OnnxModel.fromBytes(blobs.read(BlobId.of(version.state().orElseThrow().getLatestWeightsModelId())));
        return merged.tensor(target.name()).toFloatArray()[0];
    }

    @Test
    void aPushIsMergedIntoTheNewestWeightsAndQueuedWithItsFirstStep() {
        ChannelPush first = push(1, 0.25f);
        SequencedVersion version = only(merger.sequence(List.of(first)));
        assertThat(version.state().orElseThrow().getLatestVersion()).isEqualTo(1);
        assertThat(mergedValue(version)).isEqualTo(0.25f);
        assertThat(version.firstStep()).get().satisfies(step -> assertThat(step.getInputModelId()).isEqualTo(version.state().orElseThrow().getLatestWeightsModelId()));
        assertThat(version.submitted().getJobSubmitted().getSpec().getChannelVersion().getPushedAtMs()).as("the push's time").isEqualTo(1001);
        assertThat(version.records()).hasSize(3);
        version.applyTo(view, jobs);
        assertThat(view.queued("c1")).containsExactly(1L);

        // the next push merges into version 1's weights and cancels version 1, which has not started
        SequencedVersion second = only(merger.sequence(List.of(push(2, 0.5f))));
        assertThat(mergedValue(second)).isEqualTo(0.5f);
        assertThat(second.after()).extracting(BusEvent::getJobId).containsExactly(version.submitted().getJobId());
        assertThat(second.after().get(0).getCancelRequested().getReason()).isEqualTo(ChannelView.SUPERSEDED_BY + 2);
    }

    @Test
    void withANewerPushAcknowledgedAVersionIsMergedButSupersededAtOnce() {
        ChannelPush first = push(1, 0.25f);
        push(2, 0.5f);
        SequencedVersion version = only(merger.sequence(List.of(first)));
        assertThat(version.firstStep()).as("not compressed").isEmpty();
        assertThat(mergedValue(version)).as("merged: the next delta builds on it").isEqualTo(0.25f);
        version.applyTo(view, jobs);
        assertThat(view.version("mlp", 1)).get().extracting(ChannelVersion::getState).isEqualTo(VersionState.VERSION_STATE_SUPERSEDED);
        assertThat(view.version("mlp", 2)).get().extracting(ChannelVersion::getState).isEqualTo(VersionState.VERSION_STATE_QUEUED);
    }

    @Test
    void anUpdateThatCannotBeMergedFailsItsVersionWithTheReason() {
        ChannelPush missing = push(1, 0.25f).toBuilder().setUpdateId("0".repeat(64)).build();
        SequencedVersion version = only(merger.sequence(List.of(missing)));
        assertThat(version.firstStep()).isEmpty();
        assertThat(version.state().orElseThrow().getLatestWeightsModelId()).as("the channel keeps its weights").isEqualTo(view.anyState("mlp").orElseThrow()
                .getLatestWeightsModelId());
        version.applyTo(view, jobs);
        ChannelVersion failed = view.version("mlp", 1).orElseThrow();
        assertThat(failed.getState()).isEqualTo(VersionState.VERSION_STATE_FAILED);
        assertThat(failed.getReason()).contains(PushMerger.MERGE).contains("NOT_FOUND");
    }

    @Test
    void aPushToADeletedChannelIsDropped() {
        ChannelPush first = push(1, 0.25f);
        view.onChannelState("mlp", null, true);
        assertThat(merger.sequence(List.of(first))).isEmpty();
    }

    @Test
    void aNumberGivenTwiceMovesUp() {
        SequencedVersion version = only(merger.sequence(List.of(push(1, 0.25f))));
        version.applyTo(view, jobs);
        SequencedVersion again = only(merger.sequence(List.of(push(1, 0.5f))));
        assertThat(again.state().orElseThrow().getLatestVersion()).isEqualTo(2);
    }

    /** A second initializer of the model, pushed as a delta of its own. */
    private ChannelPush pushOther(long version, InitializerInfo other, float value) {
        float[] values = new float[Math.toIntExact(other.elements())];
        Arrays.fill(values, value);
        byte[] update = Safetensors.toBytes(Map.of(other.name(), Tensor.fromFloats(other.name(), DataType.FLOAT, other.shape(), values)));
        ChannelPush push = ChannelPush.newBuilder().setChannelId("c1").setChannel("mlp").setVersion(version)
                .setFormat(WeightsFormat.WEIGHTS_FORMAT_SAFETENSORS).setUpdateId(blobs.put(update).hex()).addTensors(other.name()).build();
        view.onChannelPush(push, true);
        return push;
    }

    @Test
    void aBatchWithLatestWinsStoresOnlyItsLastVersionWithEveryUpdateMerged() {
        InitializerInfo other = base.initializers().stream().filter(info -> info.dataType() == DataType.FLOAT && !info.sparse()
                && !info.name().equals(target.name())).findFirst().orElseThrow();
        List<SequencedVersion> versions = merger.sequence(List.of(push(1, 0.25f), pushOther(2, other, 0.75f), push(3, 0.5f)));
        assertThat(versions).extracting(SequencedVersion::version).containsExactly(1L, 2L, 3L);
        assertThat(versions.subList(0, 2)).allSatisfy(version -> {
            assertThat(version.firstStep()).isEmpty();
            assertThat(version.state()).as("one state for the batch").isEmpty();
            assertThat(version.submitted().getJobSubmitted().getSpec().getModelId()).as("not stored").isEmpty();
            assertThat(version.after().get(1).getJobCancelled().getReason()).isEqualTo(ChannelView.SUPERSEDED_BY + 3);
        });
        SequencedVersion last = versions.get(2);
        assertThat(last.firstStep()).isPresent();
        assertThat(last.state().orElseThrow().getLatestVersion()).isEqualTo(3);
        OnnxModel merged = OnnxModel.fromBytes(blobs.read(BlobId.of(last.state().orElseThrow().getLatestWeightsModelId())));
        assertThat(merged.tensor(target.name()).toFloatArray()[0]).as("version 3's value").isEqualTo(0.5f);
        assertThat(merged.tensor(other.name()).toFloatArray()[0]).as("version 2's delta kept").isEqualTo(0.75f);
        versions.forEach(version -> version.applyTo(view, jobs));
        assertThat(view.version("mlp", 2)).get().extracting(ChannelVersion::getState).isEqualTo(VersionState.VERSION_STATE_SUPERSEDED);
        assertThat(view.version("mlp", 3)).get().extracting(ChannelVersion::getState).isEqualTo(VersionState.VERSION_STATE_QUEUED);
    }

    @Test
    void aBatchWithPolicyEveryQueuesEveryVersionOnItsOwnWeights() {
        ChannelState every = view.anyState("mlp").orElseThrow().toBuilder().setPolicy(ChannelPolicy.CHANNEL_POLICY_EVERY).build();
        view.onChannelState("mlp", every, true);
        List<SequencedVersion> versions = merger.sequence(List.of(push(1, 0.25f), push(2, 0.5f)));
        assertThat(versions).allSatisfy(version -> assertThat(version.firstStep()).isPresent());
        assertThat(versions.get(0).after()).as("nothing cancelled").isEmpty();
        OnnxModel first = OnnxModel.fromBytes(blobs.read(BlobId.of(versions.get(0).firstStep().orElseThrow().getInputModelId())));
        assertThat(first.tensor(target.name()).toFloatArray()[0]).isEqualTo(0.25f);
        assertThat(mergedValue(versions.get(1))).isEqualTo(0.5f);
    }
}
