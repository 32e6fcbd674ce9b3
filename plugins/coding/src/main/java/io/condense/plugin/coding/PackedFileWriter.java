package io.condense.plugin.coding;

import io.condense.sdk.coding.PackedFormat;
import java.util.List;
import java.util.zip.CRC32C;

/** Lays out a packed file: header, section table with each section's CRC32C, the header's CRC32C, the sections. */
final class PackedFileWriter {
    /** One section's kind, flags and bytes. */
    record Section(int kind, int flags, byte[] bytes) {
    }

    private PackedFileWriter() {
    }

    static byte[] write(List<Section> sections) {
        long tableEnd = PackedFormat.HEADER_BYTES + (long) sections.size() * PackedFormat.SECTION_ENTRY_BYTES;
        long length = tableEnd + 4;
        for (Section section : sections) {
            length += section.bytes().length;
        }
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a packed file of " + length + " bytes is larger than this writer handles (2 GiB)");
        }
        ByteSink out = new ByteSink();
        out.bytes(PackedFormat.MAGIC).u16(PackedFormat.MAJOR_VERSION).u16(PackedFormat.MINOR_VERSION).u32(sections.size()).u64(length);
        long offset = tableEnd + 4;
        for (Section section : sections) {
            CRC32C crc = new CRC32C();
            crc.update(section.bytes());
            out.u32(section.kind()).u32(section.flags()).u64(offset).u64(section.bytes().length).u32(crc.getValue()).u32(0);
            offset += section.bytes().length;
        }
        byte[] header = out.toByteArray();
        CRC32C headerCrc = new CRC32C();
        headerCrc.update(header);
        out.u32(headerCrc.getValue());
        for (Section section : sections) {
            out.bytes(section.bytes());
        }
        return out.toByteArray();
    }
}
