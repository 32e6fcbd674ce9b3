package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ChunkStreamsTest {
    private static List<ByteString> sent(InputStream in) throws IOException {
        ChunkStreams.Messages<ByteString> messages = ChunkStreams.chunks(null, in, Function.identity());
        List<ByteString> out = new ArrayList<>();
        for (ByteString next = messages.next(); next != null; next = messages.next()) {
            out.add(next);
        }
        return out;
    }

    /** A stream that never says how much it holds, as a socket may not. */
    private static InputStream silent(byte[] bytes) {
        return new FilterInputStream(new ByteArrayInputStream(bytes)) {
            @Override
            public int available() {
                return 0;
            }
        };
    }

    @Test
    void aStreamIsSentInChunksOfAtMostTheSendSizeWithEveryByteInOrder() throws IOException {
        byte[] bytes = new byte[2 * ChunkStreams.SEND_BYTES + 12_345];
        new Random(7).nextBytes(bytes);
        for (InputStream in : List.of(new ByteArrayInputStream(bytes), silent(bytes))) {
            List<ByteString> chunks = sent(in);
            assertThat(chunks).extracting(ByteString::size).containsExactly(ChunkStreams.SEND_BYTES, ChunkStreams.SEND_BYTES, 12_345);
            assertThat(ByteString.copyFrom(chunks).toByteArray()).isEqualTo(bytes);
        }
    }

    @Test
    void smallAndEmptyStreams() throws IOException {
        byte[] delta = new byte[4_186];
        new Random(8).nextBytes(delta);
        assertThat(sent(new ByteArrayInputStream(delta))).extracting(ByteString::size).containsExactly(4_186);
        assertThat(sent(silent(delta))).extracting(ByteString::size).containsExactly(4_186);
        assertThat(sent(new ByteArrayInputStream(new byte[0]))).isEmpty();
        assertThat(sent(silent(new byte[0]))).isEmpty();
        byte[] exact = new byte[ChunkStreams.SEND_BYTES];
        assertThat(sent(new ByteArrayInputStream(exact))).extracting(ByteString::size).containsExactly(ChunkStreams.SEND_BYTES);
        assertThat(sent(silent(exact))).extracting(ByteString::size).containsExactly(ChunkStreams.SEND_BYTES);
    }
}
