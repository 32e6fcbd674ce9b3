package io.condense.server.channel;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.VersionState;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.CancelRequested;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;
import io.condense.proto.v1.events.ChannelVersionRef;
import io.condense.proto.v1.events.JobCancelled;
import io.condense.proto.v1.events.JobCompleted;
import io.condense.proto.v1.events.JobFailed;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepStarted;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChannelViewTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ChannelView view = new ChannelView(registry);
    private final List<ChannelVersion> delivered = new ArrayList<>();
    private boolean finished;
    private final ChannelWatcher watcher = new ChannelWatcher() {
        @Override
        public void onVersion(ChannelVersion version) {
            delivered.add(version);
        }

        @Override
        public void finished() {
            finished = true;
        }
    };

    private static ChannelState state(long latest) {
        return ChannelState.newBuilder().setChannelId("c1").setName("mlp").setLatestVersion(latest).build();
    }

    private static BusEvent submitted(long version) {
        return BusEvent.newBuilder().setJobId("job-" + version).setJobSubmitted(JobSubmitted.newBuilder().setSpec(JobSpec.newBuilder()
                .setModelId("weights-" + version).setChannelVersion(ChannelVersionRef.newBuilder().setChannelId("c1").setChannel("mlp")
                        .setVersion(version).setStep(version * 100).setPushedAtMs(1000)))).build();
    }

    private static BusEvent event(long version) {
        return BusEvent.newBuilder().setJobId("job-" + version).setTimeMs(1500).build();
    }

    @Test
    void watchersGetEachVersionOnceInOrderEvenWhenTheyEndOutOfOrder() {
        view.onChannelState("mlp", state(3), false);
        for (long v = 1; v <= 3; v++) {
            view.onEvent(submitted(v), true);
        }
        view.watch("mlp", 0, watcher);
        view.onEvent(event(2).toBuilder().setJobCompleted(JobCompleted.newBuilder().setResultModelId("r2").setReport(Struct.getDefaultInstance())).build(), true);
        assertThat(delivered).as("version 2 waits for version 1").isEmpty();
        view.onEvent(event(1).toBuilder().setJobFailed(JobFailed.newBuilder().setError(JobError.newBuilder().setStep(1).setTechnique("prune")
                .setCode("PLUGIN_FAILURE").setMessage("boom"))).build(), true);
        assertThat(delivered).extracting(ChannelVersion::getVersion).containsExactly(1L, 2L);
        assertThat(delivered.get(0).getState()).isEqualTo(VersionState.VERSION_STATE_FAILED);
        assertThat(delivered.get(0).getReason()).contains("step 1 (prune) failed: PLUGIN_FAILURE: boom");
        assertThat(delivered.get(1).getState()).isEqualTo(VersionState.VERSION_STATE_COMPRESSED);

        // version 3 was superseded while it waited: its cancellation is SUPERSEDED, not FAILED
        view.onEvent(event(3).toBuilder().setCancelRequested(CancelRequested.newBuilder().setReason(ChannelView.SUPERSEDED_BY + 4)).build(), true);
        view.onEvent(event(3).toBuilder().setJobCancelled(JobCancelled.newBuilder().setReason("cancelled before step 1 (prune) started")).build(), true);
        assertThat(delivered).extracting(ChannelVersion::getState).last().isEqualTo(VersionState.VERSION_STATE_SUPERSEDED);
        assertThat(registry.get("condense.channel.versions").tag("channel", "mlp").tag("outcome", "superseded").counter().count()).isEqualTo(1);
        assertThat(registry.get("condense.channel.push.to.compressed").timer().count()).isEqualTo(1);

        // a late watcher from version 2 gets 2 and 3 again, exactly once
        List<ChannelVersion> late = new ArrayList<>();
        view.watch("mlp", 2, new ChannelWatcher() {
            @Override
            public void onVersion(ChannelVersion version) {
                late.add(version);
            }

            @Override
            public void finished() {
            }
        });
        assertThat(late).extracting(ChannelVersion::getVersion).containsExactly(2L, 3L);
        view.onChannelState("mlp", null, true);
        assertThat(finished).isTrue();
        assertThat(view.state("mlp")).isEmpty();
    }

    @Test
    void anOlderStateReadLaterDoesNotTakeTheVersionNumberBack() {
        view.onChannelState("mlp", state(5), true);
        view.onChannelState("mlp", state(4), false);
        assertThat(view.state("mlp")).get().extracting(ChannelState::getLatestVersion).isEqualTo(5L);
        // a channel created again under the same name starts afresh
        view.onChannelState("mlp", state(0).toBuilder().setChannelId("c2").build(), true);
        assertThat(view.state("mlp")).get().extracting(ChannelState::getLatestVersion).isEqualTo(0L);
    }

    @Test
    void versionsWaitingAreQueuedOrRunning() {
        view.onChannelState("mlp", state(2), false);
        view.onEvent(submitted(1), false);
        view.onEvent(submitted(2), false);
        view.onEvent(event(1).toBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(0)).build(), false);
        assertThat(view.waiting("mlp")).isEqualTo(2);
        assertThat(view.queued("c1")).containsExactly(2L);
        assertThat(registry.get("condense.channel.versions.waiting").gauge().value()).isEqualTo(2);
    }

    private static ChannelPush pushed(long version) {
        return ChannelPush.newBuilder().setChannelId("c1").setChannel("mlp").setVersion(version).setStep(version * 100).setPushedAtMs(900).build();
    }

    @Test
    void anAcknowledgedPushIsAQueuedVersionUntilItsJobTakesIt() {
        view.onChannelState("mlp", state(1), false);
        view.onEvent(submitted(1), false);
        view.onChannelPush(pushed(2), true);
        view.onChannelPush(pushed(3), true);
        ChannelState channel = view.state("mlp").orElseThrow();
        assertThat(view.newestVersion(channel)).as("the next push is numbered after the acknowledged ones").isEqualTo(3);
        assertThat(view.channel("mlp", false)).get().satisfies(described -> assertThat(described.getLatestVersion()).isEqualTo(3));
        assertThat(view.waitingToStart("c1")).containsExactly(1L, 2L, 3L);
        assertThat(view.queued("c1")).as("only versions with a job can be cancelled").containsExactly(1L);
        assertThat(view.waiting("mlp")).isEqualTo(3);
        assertThat(view.version("mlp", 2)).get().satisfies(version -> {
            assertThat(version.getState()).isEqualTo(VersionState.VERSION_STATE_QUEUED);
            assertThat(version.getJobId()).isEmpty();
            assertThat(version.getStep()).isEqualTo(200);
        });

        // the job takes the push's entry (in either order of the topics), once
        view.onEvent(submitted(2), true);
        view.onChannelPush(pushed(2), false);
        view.onEvent(submitted(2), false);
        assertThat(view.version("mlp", 2)).get().extracting(ChannelVersion::getJobId).isEqualTo("job-2");
        view.watch("mlp", 2, watcher);
        view.onEvent(event(2).toBuilder().setJobCompleted(JobCompleted.newBuilder().setResultModelId("r2").setReport(Struct.getDefaultInstance())).build(), true);
        assertThat(delivered).extracting(ChannelVersion::getVersion).containsExactly(2L);
        assertThat(delivered.get(0).getState()).isEqualTo(VersionState.VERSION_STATE_COMPRESSED);
    }
}
