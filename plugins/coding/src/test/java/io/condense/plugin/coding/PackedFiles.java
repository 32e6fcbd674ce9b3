package io.condense.plugin.coding;

import io.condense.sdk.coding.PackedFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/** Test helpers over packed files: recompute every CRC32C after a deliberate change, so the decoder's structural checks are reached. */
final class PackedFiles {
    private PackedFiles() {
    }

    /** Rewrites the section CRCs and the header CRC in place, when the section table is still readable; returns the bytes. */
    static byte[] reseal(byte[] file) {
        if (file.length < PackedFormat.HEADER_BYTES) {
            return file;
        }
        ByteBuffer buffer = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        long sections = buffer.getInt(12) & 0xFFFFFFFFL;
        long tableEnd = PackedFormat.HEADER_BYTES + sections * PackedFormat.SECTION_ENTRY_BYTES;
        if (sections > PackedFormat.MAX_SECTIONS || tableEnd + 4 > file.length) {
            return file;
        }
        for (int i = 0; i < sections; i++) {
            int entry = PackedFormat.HEADER_BYTES + i * PackedFormat.SECTION_ENTRY_BYTES;
            long offset = buffer.getLong(entry + 8);
            long length = buffer.getLong(entry + 16);
            if (offset >= 0 && length >= 0 && offset <= file.length && length <= file.length - offset) {
                CRC32C crc = new CRC32C();
                crc.update(file, (int) offset, (int) length);
                buffer.putInt(entry + 24, (int) crc.getValue());
            }
        }
        CRC32C header = new CRC32C();
        header.update(file, 0, (int) tableEnd);
        buffer.putInt((int) tableEnd, (int) header.getValue());
        return file;
    }
}
