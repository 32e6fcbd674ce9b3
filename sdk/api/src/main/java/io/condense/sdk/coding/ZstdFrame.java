package io.condense.sdk.coding;

import com.github.luben.zstd.Zstd;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;

/**
 * The payload of a ZSTD stream ({@code docs/FORMAT.md}, coding 2): exactly one zstd frame, without a dictionary, whose
 * header declares its content size, decompressed by zstd-jni into an array of exactly that size. Everything the frame
 * declares is checked before the array is allocated; a damaged frame is a {@link PackedFormatException}, never
 * another exception.
 */
final class ZstdFrame {
    /** The zstd frame magic number 0xFD2FB528, little-endian. */
    private static final byte[] MAGIC = {0x28, (byte) 0xB5, 0x2F, (byte) 0xFD};
    /** Frame magic and frame header descriptor. */
    private static final int MIN_HEADER = MAGIC.length + 1;

    private ZstdFrame() {
    }

    /** The frame at {@code data[offset, offset + length)} decompressed; it must declare and produce exactly {@code size} bytes. */
    static byte[] decompress(byte[] data, int offset, int length, long size, String what) {
        if (length < MIN_HEADER) {
            throw new PackedFormatException(what + ": a zstd payload of " + length + " bytes is shorter than a frame header");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (data[offset + i] != MAGIC[i]) {
                throw new PackedFormatException(what + ": the payload does not start with the zstd frame magic 28 B5 2F FD");
            }
        }
        int descriptor = data[offset + MAGIC.length] & 0xFF;
        if ((descriptor & 0x03) != 0) {
            throw new PackedFormatException(what + ": the zstd frame names a dictionary; the format uses none");
        }
        if ((descriptor & 0xE0) == 0) {
            throw new PackedFormatException(what + ": the zstd frame does not declare its content size");
        }
        try {
            long declared = Zstd.getFrameContentSize(data, offset, length);
            if (declared != size) {
                throw new PackedFormatException(what + ": the zstd frame declares " + (declared < 0 ? "no valid size" : declared + " bytes")
                        + ", the stream needs " + size);
            }
            long frame = Zstd.findFrameCompressedSize(data, offset, length);
            if (Zstd.isError(frame) || frame != length) {
                throw new PackedFormatException(what + ": the zstd payload is " + length + " bytes but "
                        + (Zstd.isError(frame) ? "its frame is damaged (" + Zstd.getErrorName(frame) + ")" : "its frame is " + frame));
            }
            byte[] out = new byte[(int) size];
            long produced = Zstd.decompressByteArray(out, 0, out.length, data, offset, length);
            if (Zstd.isError(produced)) {
                throw new PackedFormatException(what + ": the zstd frame is damaged: " + Zstd.getErrorName(produced));
            }
            if (produced != size) {
                throw new PackedFormatException(what + ": the zstd frame decompresses to " + produced + " bytes, not " + size);
            }
            return out;
        } catch (PackedFormatException e) {
            throw e;
        } catch (RuntimeException e) {
            // zstd-jni reports some errors as ZstdException
            throw new PackedFormatException(what + ": the zstd frame is damaged: " + e.getMessage());
        } catch (LinkageError e) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "this packed model has zstd-coded streams (entropy=zstd) and "
                    + "zstd-jni's native library does not load on this platform (" + e + "): encode it with entropy=huffman");
        }
    }
}
