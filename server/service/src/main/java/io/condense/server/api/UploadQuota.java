package io.condense.server.api;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.blob.BlobStore;
import io.condense.server.security.Tenants;

/**
 * The calling tenant's upload limits ({@code blob=} and {@code stored=} of the tokens file), checked as an upload's bytes
 * arrive (UploadModel) or as soon as a bundle announces its size (UploadBundle). What the tenant holds is read once, at
 * the upload's first check.
 */
final class UploadQuota {
    private final BlobStore blobs;
    private long storedBefore = -1;

    UploadQuota(BlobStore blobs) {
        this.blobs = requireNonNull(blobs, "blobs is null");
    }

    /** RESOURCE_EXHAUSTED when {@code adding} more bytes to the {@code uploaded} ones of this upload pass a limit. */
    void check(long uploaded, long adding) {
        if (storedBefore < 0) {
            storedBefore = Tenants.limits().maxStoredBytes() == Long.MAX_VALUE ? 0 : blobs.storedBytes(Tenants.current());
        }
        long blobLimit = Tenants.limits().maxBlobBytes();
        if (uploaded + adding > blobLimit) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "this upload is larger than the " + blobLimit
                    + " bytes tenant " + Tenants.current() + " may send in one upload (blob= in the tokens file); "
                    + "ask the operator for more");
        }
        long limit = Tenants.limits().maxStoredBytes();
        if (storedBefore + uploaded + adding > limit) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "tenant " + Tenants.current() + " holds " + storedBefore
                    + " bytes and this upload would take it past its limit of " + limit + " bytes (stored= in the tokens "
                    + "file); ask the operator for more, or wait until old blobs are collected");
        }
    }
}
