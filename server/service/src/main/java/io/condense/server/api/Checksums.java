package io.condense.server.api;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** The CRC32C (Castagnoli) each chunk of a model bundle carries, computed the same way by the server and the client. */
public final class Checksums {
    private Checksums() {
    }

    public static int crc32c(byte[] bytes) {
        return crc32c(bytes, 0, bytes.length);
    }

    /** The CRC32C of a ByteString's bytes, read where they are (no copy). */
    public static int crc32c(ByteString bytes) {
        CRC32C crc = new CRC32C();
        for (ByteBuffer buffer : bytes.asReadOnlyByteBufferList()) {
            crc.update(buffer);
        }
        return (int) crc.getValue();
    }

    public static int crc32c(byte[] bytes, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }

    /** A CRC as 8 hex digits, for messages. */
    public static String hex(int crc) {
        return String.format("%08x", crc);
    }
}
