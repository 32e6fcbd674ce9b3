package io.condense.server.blob;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.StepResult;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelState;
import io.condense.proto.v1.events.JobCompleted;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepCompleted;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The blob garbage collection: after the retention, what no job or channel needs is removed and the tenant's stored
 * bytes go down; what an open job or a channel holds, and what a job released within the retention, stays.
 */
class BlobCollectorTest {
    private static final Duration RETENTION = Duration.ofHours(24);
    private static final String TENANT = "team-a";

    @Test
    void removesWhatNothingNeedsAfterTheRetentionAndKeepsTheRest(@TempDir Path folder) {
        BlobStore blobs = new BlobStore(folder, 1 << 20);
        // the collector's clock: two retention periods after everything was stored
        Instant now = Instant.now().plus(RETENTION.multipliedBy(2));
        BlobReferences references = new BlobReferences(Clock.fixed(now, java.time.ZoneOffset.UTC));
        BlobId neverUsed = stored(blobs, "an upload no job used");
        BlobId openModel = stored(blobs, "the model of a job still queued");
        BlobId finishedModel = stored(blobs, "the model of a job that ended long ago");
        BlobId finishedResult = stored(blobs, "its result");
        BlobId finishedReport = stored(blobs, "its report");
        BlobId recentResult = stored(blobs, "the result of a job that ended an hour ago");
        BlobId recentModel = stored(blobs, "its model");
        BlobId channelBase = stored(blobs, "a channel's base model");
        BlobId channelWeights = stored(blobs, "a channel's newest merged weights");
        long before = blobs.storedBytes(TENANT);

        long longAgo = now.minus(RETENTION.plusHours(1)).toEpochMilli();
        long anHourAgo = now.minus(Duration.ofHours(1)).toEpochMilli();
        submit(references, "open", openModel, longAgo);
        submit(references, "ended", finishedModel, longAgo);
        references.onEvent(BusEvent.newBuilder().setJobId("ended").setTimeMs(longAgo).setStepCompleted(StepCompleted.newBuilder()
                .setResult(StepResult.newBuilder().setOutputModelId(finishedResult.hex()))).build(), true);
        references.onEvent(BusEvent.newBuilder().setJobId("ended").setTimeMs(longAgo).setJobCompleted(JobCompleted.newBuilder()
                .setResultModelId(finishedResult.hex()).setReportId(finishedReport.hex())).build(), true);
        submit(references, "recent", recentModel, longAgo);
        references.onEvent(BusEvent.newBuilder().setJobId("recent").setTimeMs(anHourAgo).setJobCompleted(JobCompleted.newBuilder()
                .setResultModelId(recentResult.hex())).build(), true);
        references.onChannelState("mnist", ChannelState.newBuilder().setName("mnist").setModelId(channelBase.hex())
                .setLatestWeightsModelId(channelWeights.hex()).setTenant(TENANT).build(), true);

        BlobCollector collector = new BlobCollector(blobs, references, RETENTION, () -> true, Clock.fixed(now, java.time.ZoneOffset.UTC));
        BlobCollector.Sweep sweep = collector.sweep();

        assertThat(sweep.blobs()).isEqualTo(4);
        for (BlobId gone : new BlobId[] {neverUsed, finishedModel, finishedResult, finishedReport}) {
            assertThat(blobs.contains(gone)).as("removed: %s", gone).isFalse();
            assertThat(blobs.owns(TENANT, gone)).isFalse();
        }
        for (BlobId kept : new BlobId[] {openModel, recentResult, recentModel, channelBase, channelWeights}) {
            assertThat(blobs.contains(kept)).as("kept: %s", kept).isTrue();
        }
        assertThat(blobs.storedBytes(TENANT)).as("the tenant's stored bytes went down by what was removed").isEqualTo(before - sweep.bytes());
        assertThat(blobs.list()).hasSize(5);

        // the channel moves to new weights: the old ones are released now, and collected a retention later
        BlobId newerWeights = stored(blobs, "newer merged weights");
        references.onChannelState("mnist", ChannelState.newBuilder().setName("mnist").setModelId(channelBase.hex())
                .setLatestWeightsModelId(newerWeights.hex()).setTenant(TENANT).build(), true);
        assertThat(collector.sweep().blobs()).as("released just now: kept for the retention").isZero();
        Instant later = now.plus(RETENTION).plus(RETENTION);
        BlobCollector laterCollector = new BlobCollector(blobs, references, RETENTION, () -> true, Clock.fixed(later, java.time.ZoneOffset.UTC));
        assertThat(laterCollector.sweep().blobs()).as("the old weights and the job that ended an hour before 'now'").isEqualTo(3);
        assertThat(blobs.contains(channelWeights)).isFalse();
        assertThat(blobs.contains(newerWeights)).isTrue();
        assertThat(blobs.contains(openModel)).as("the open job still holds its model").isTrue();
    }

    @Test
    void aBundleAJobHoldsKeepsItsFilesAndAnUnheldOneGoesWithThem(@TempDir Path folder) {
        BlobStore blobs = new BlobStore(folder, 1 << 20);
        ModelBundles bundles = new ModelBundles(blobs);
        Instant now = Instant.now().plus(RETENTION.multipliedBy(2));
        BlobReferences references = new BlobReferences(Clock.fixed(now, java.time.ZoneOffset.UTC));
        BlobId heldModel = stored(blobs, "the model file of a queued job's bundle");
        BlobId heldData = stored(blobs, "its data file");
        BlobId held = bundles.storeManifest(manifest(blobs, heldModel, heldData));
        BlobId loneModel = stored(blobs, "the model file of a bundle no job used");
        BlobId loneData = stored(blobs, "its data");
        BlobId lone = bundles.storeManifest(manifest(blobs, loneModel, loneData));
        submit(references, "open", held, now.minus(RETENTION.plusHours(1)).toEpochMilli());

        BlobCollector.Sweep sweep = new BlobCollector(blobs, references, RETENTION, () -> true, Clock.fixed(now, java.time.ZoneOffset.UTC)).sweep();

        assertThat(sweep.blobs()).isEqualTo(3);
        for (BlobId kept : new BlobId[] {held, heldModel, heldData}) {
            assertThat(blobs.contains(kept)).as("kept: %s", kept).isTrue();
        }
        for (BlobId gone : new BlobId[] {lone, loneModel, loneData}) {
            assertThat(blobs.contains(gone)).as("removed: %s", gone).isFalse();
        }
    }

    private static io.condense.proto.v1.BundleHeader manifest(BlobStore blobs, BlobId model, BlobId data) {
        return io.condense.proto.v1.BundleHeader.newBuilder()
                .addFiles(io.condense.proto.v1.BundleFile.newBuilder().setName("m.onnx").setSize(blobs.size(model)).setSha256(model.hex()))
                .addFiles(io.condense.proto.v1.BundleFile.newBuilder().setName("m.onnx.data").setSize(blobs.size(data)).setSha256(data.hex()))
                .build();
    }

    @Test
    void sweepsNothingBeforeTheViewsAreComplete(@TempDir Path folder) {
        BlobStore blobs = new BlobStore(folder, 1 << 20);
        BlobId id = stored(blobs, "anything");
        Clock muchLater = Clock.fixed(Instant.now().plus(RETENTION.multipliedBy(3)), java.time.ZoneOffset.UTC);
        assertThat(new BlobCollector(blobs, new BlobReferences(), RETENTION, () -> false, muchLater).sweep().blobs()).isZero();
        assertThat(blobs.contains(id)).isTrue();
    }

    @Test
    void storingTheSameBytesAgainStartsTheRetentionOver(@TempDir Path folder) throws Exception {
        BlobStore blobs = new BlobStore(folder, 1 << 20);
        BlobId id = stored(blobs, "uploaded twice");
        Path file = blobs.require(id);
        java.nio.file.Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.from(Instant.now().minus(RETENTION.multipliedBy(2))));
        stored(blobs, "uploaded twice");
        assertThat(new BlobCollector(blobs, new BlobReferences(), RETENTION, () -> true, Clock.systemUTC()).sweep().blobs()).isZero();
    }

    private static BlobId stored(BlobStore blobs, String text) {
        BlobId id = blobs.put(text.getBytes(StandardCharsets.UTF_8));
        blobs.grant(TENANT, id);
        return id;
    }

    private static void submit(BlobReferences references, String jobId, BlobId model, long atMs) {
        references.onEvent(BusEvent.newBuilder().setJobId(jobId).setTimeMs(atMs).setJobSubmitted(JobSubmitted.newBuilder()
                .setSpec(JobSpec.newBuilder().setModelId(model.hex()).addSteps(PipelineStep.newBuilder().setTechnique("prune"))
                        .setTenant(TENANT))).build(), true);
    }
}
