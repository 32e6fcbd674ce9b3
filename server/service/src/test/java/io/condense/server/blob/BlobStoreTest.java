package io.condense.server.blob;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlobStoreTest {

    @Test
    void storesBytesUnderTheirSha256(@TempDir Path folder) {
        BlobStore store = new BlobStore(folder, 1024);
        BlobId id = store.put("abc".getBytes(StandardCharsets.UTF_8));
        assertThat(id.hex()).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assertThat(store.read(id)).isEqualTo("abc".getBytes(StandardCharsets.UTF_8));
        assertThat(store.size(id)).isEqualTo(3);
        assertThat(store.put("abc".getBytes(StandardCharsets.UTF_8))).isEqualTo(id);
    }

    @Test
    void aBlobIsVisibleOnlyOnceCommitted(@TempDir Path folder) {
        BlobStore store = new BlobStore(folder, 1024);
        BlobId expected = BlobId.of("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        BlobWriter writer = store.newWriter();
        writer.write("ab".getBytes(StandardCharsets.UTF_8), 0, 2);
        assertThat(store.contains(expected)).isFalse();
        writer.write("c".getBytes(StandardCharsets.UTF_8), 0, 1);
        assertThat(writer.commit()).isEqualTo(expected);
        assertThat(store.contains(expected)).isTrue();
    }

    @Test
    void chunksHashedWhileWrittenGiveTheSha256OfTheWholeInOrder(@TempDir Path folder) throws Exception {
        // more than the hashing backlog, in uneven chunks: ByteStrings (hashed on the store's threads, one a rope of two
        // buffers), arrays (hashed at once, after the queued ones) and an empty chunk, in an order that mixes them
        BlobStore store = new BlobStore(folder, 64L << 20);
        Random random = new Random(20);
        ByteArrayOutputStream whole = new ByteArrayOutputStream();
        BlobWriter writer = store.newWriter();
        for (int i = 0; i < 40; i++) {
            byte[] chunk = new byte[i == 7 ? 0 : random.nextInt(1 << 20)];
            random.nextBytes(chunk);
            whole.write(chunk);
            if (i % 5 == 3) {
                writer.write(chunk, 0, chunk.length);
                Arrays.fill(chunk, (byte) 0); // the caller reuses its array once write returns
            } else if (i % 5 == 4) {
                int half = chunk.length / 2;
                writer.write(ByteString.copyFrom(chunk, 0, half).concat(ByteString.copyFrom(chunk, half, chunk.length - half)));
            } else {
                writer.write(ByteString.copyFrom(chunk));
            }
        }
        assertThat(whole.size()).isGreaterThan((int) BlobWriter.HASH_BACKLOG_BYTES * 2);
        BlobId id = writer.commit();
        assertThat(id.hex()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(whole.toByteArray())));
        assertThat(store.read(id)).isEqualTo(whole.toByteArray());
        store.close();
    }

    @Test
    void anAbortedWriteLeavesNothing(@TempDir Path folder) throws Exception {
        BlobStore store = new BlobStore(folder, 1024);
        BlobWriter writer = store.newWriter();
        writer.write(new byte[10], 0, 10);
        writer.abort();
        try (var files = Files.walk(folder)) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
    }

    @Test
    void refusesBlobsOverTheLimit(@TempDir Path folder) {
        BlobStore store = new BlobStore(folder, 8);
        BlobWriter writer = store.newWriter();
        writer.write(new byte[8], 0, 8);
        assertThatThrownBy(() -> writer.write(new byte[1], 0, 1))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
                    assertThat(e.getMessage()).contains("limit of 8 bytes");
                });
    }

    @Test
    void unknownAndMalformedIdsAreNotFound(@TempDir Path folder) {
        BlobStore store = new BlobStore(folder, 8);
        assertThatThrownBy(() -> store.read(BlobId.of("0".repeat(64)))).hasMessageContaining("upload it first");
        assertThatThrownBy(() -> BlobId.of("../../etc/passwd")).isInstanceOfSatisfying(CondenseException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    }
}
