package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The blob garbage collection: a periodic sweep removes every stored blob that was last stored more than the retention
 * period ago and that no job or channel keeps ({@link BlobReferences}); the tenants' holds on it go with it, so their
 * stored bytes go down. Runs only once the views are complete (the events topic read to its end). Any number of API
 * processes may sweep one store: removing a blob twice is harmless.
 */
public final class BlobCollector implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BlobCollector.class);

    private final BlobStore blobs;
    private final BlobReferences references;
    private final Duration retention;
    private final BooleanSupplier ready;
    private final Clock clock;
    private ScheduledExecutorService scheduler;

    /** What one sweep removed. */
    public record Sweep(int blobs, long bytes) {
    }

    public BlobCollector(BlobStore blobs, BlobReferences references, Duration retention, BooleanSupplier ready, Clock clock) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.references = requireNonNull(references, "references is null");
        this.retention = requireNonNull(retention, "retention is null");
        this.ready = requireNonNull(ready, "ready is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** How often to sweep: a tenth of the retention, at most hourly, at least every second. */
    public static Duration interval(Duration retention) {
        Duration tenth = retention.dividedBy(10);
        return tenth.compareTo(Duration.ofHours(1)) > 0 ? Duration.ofHours(1) : tenth.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : tenth;
    }

    public void start() {
        scheduler = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "condense-blob-collector");
            thread.setDaemon(true);
            return thread;
        });
        long every = interval(retention).toMillis();
        scheduler.scheduleWithFixedDelay(this::sweepSafely, every, every, TimeUnit.MILLISECONDS);
    }

    private void sweepSafely() {
        try {
            sweep();
        } catch (RuntimeException e) {
            log.warn("The blob garbage collection failed; it tries again later: {}", e.toString());
        }
    }

    /** Removes what is collectable now; nothing while the views are incomplete. */
    public Sweep sweep() {
        if (!ready.getAsBoolean()) {
            return new Sweep(0, 0);
        }
        Instant now = clock.instant();
        int removed = 0;
        long bytes = 0;
        List<StoredBlob> stored = blobs.list();
        // a kept bundle keeps its files: jobs and channels name only a bundle's manifest
        Set<BlobId> inKeptBundles = new HashSet<>();
        ModelBundles bundles = new ModelBundles(blobs);
        for (StoredBlob blob : stored) {
            if (kept(blob, now)) {
                bundles.manifest(blob.id()).ifPresent(manifest -> manifest.getFilesList()
                        .forEach(file -> inKeptBundles.add(BlobId.of(file.getSha256()))));
            }
        }
        for (StoredBlob blob : stored) {
            if (kept(blob, now) || inKeptBundles.contains(blob.id())) {
                continue;
            }
            blobs.delete(blob.id());
            references.forget(blob.id());
            removed++;
            bytes += blob.size();
        }
        if (removed > 0) {
            log.info("Blob garbage collection removed {} blob(s), {} bytes, unused for {} in {}", removed, bytes, retention, blobs.location());
        }
        return new Sweep(removed, bytes);
    }

    private boolean kept(StoredBlob blob, Instant now) {
        return blob.lastModified().plus(retention).isAfter(now) || references.kept(blob.id(), now, retention);
    }

    @Override
    public void close() {
        if (scheduler != null) {
            scheduler.shutdownNow();
        }
    }
}
