package io.condense.server.blob;

import java.time.Instant;

/** A stored blob as the garbage collection sees it: its id, size and when it was last stored. */
public record StoredBlob(BlobId id, long size, Instant lastModified) {
}
