package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Where the blobs live and how long unused ones are kept.
 *
 * @param s3 an S3 bucket ({@code --blob-store s3://bucket/prefix}); empty: the data folder's {@code blobs}
 * @param retention how long a blob nothing holds any more is kept ({@code --blob-retention}) before it is collected
 */
public record BlobOptions(Optional<S3Location> s3, Duration retention) {
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
    public static final BlobOptions DEFAULTS = new BlobOptions(Optional.empty(), DEFAULT_RETENTION);

    public BlobOptions {
        requireNonNull(s3, "s3 is null");
        requireNonNull(retention, "retention is null");
        if (retention.isNegative() || retention.isZero()) {
            throw new IllegalArgumentException("the blob retention must be positive: " + retention);
        }
    }

    /** The store: the folder {@code root}, or the bucket with its temporary files and cache under {@code root}. */
    public BlobStore open(Path root, long maxBlobBytes) {
        return s3.map(location -> BlobStore.s3(location, root, maxBlobBytes)).orElseGet(() -> new BlobStore(root, maxBlobBytes));
    }
}
