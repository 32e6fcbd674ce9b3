package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** The id of a blob: the SHA-256 of its bytes as 64 lower-case hex digits. */
public record BlobId(String hex) {
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

    public BlobId {
        requireNonNull(hex, "hex is null");
        if (!HEX.matcher(hex).matches()) {
            throw new CondenseException(ErrorCode.NOT_FOUND,
                    "'" + hex + "' is not a blob id: ids are the SHA-256 of the content, 64 lower-case hex digits (from UploadModel)");
        }
    }

    public static BlobId of(String hex) {
        return new BlobId(hex);
    }

    public static BlobId fromDigest(byte[] sha256) {
        return new BlobId(HexFormat.of().formatHex(sha256));
    }

    @Override
    public String toString() {
        return hex;
    }
}
