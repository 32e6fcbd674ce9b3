package io.condense.plugin.coding;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Little-endian fields into a growing byte array, as the format writes them. */
final class ByteSink {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    ByteSink u8(int value) {
        out.write(value);
        return this;
    }

    ByteSink u16(int value) {
        out.write(value);
        out.write(value >>> 8);
        return this;
    }

    ByteSink u32(long value) {
        for (int i = 0; i < 4; i++) {
            out.write((int) (value >>> (8 * i)));
        }
        return this;
    }

    ByteSink u64(long value) {
        for (int i = 0; i < 8; i++) {
            out.write((int) (value >>> (8 * i)));
        }
        return this;
    }

    ByteSink string(String value) {
        byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
        if (utf8.length == 0 || utf8.length > 0xFFFF) {
            throw new IllegalArgumentException("a name must be 1 to 65535 UTF-8 bytes: '" + value + "'");
        }
        u16(utf8.length);
        out.write(utf8, 0, utf8.length);
        return this;
    }

    ByteSink bytes(byte[] bytes) {
        out.write(bytes, 0, bytes.length);
        return this;
    }

    int size() {
        return out.size();
    }

    byte[] toByteArray() {
        return out.toByteArray();
    }
}
