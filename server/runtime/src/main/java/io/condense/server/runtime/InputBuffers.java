package io.condense.server.runtime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The direct buffers a session's input tensors are made over, used again from one run to the next. ONNX Runtime reads
 * a run's inputs from native memory; a buffer of {@link ByteBuffer#allocateDirect} is freed only once the collector has
 * found it unreachable, which with a large heap and little garbage may be hundreds of runs later: a minmax calibration
 * of UltraFace, whose runs return a few scalars, fed 1,000 inputs of 0.9 MB and the server's resident memory grew by
 * hundreds of MB during the job (plugins/quantization/README.md, "Eighteenth session"). A session keeps at most
 * {@link #KEPT} spare buffers; a run takes the smallest that holds its input, or a new one, and gives its buffers back
 * once its tensors are closed. Several runs of one session may take and give at once.
 */
final class InputBuffers {
    /** Spare buffers kept: the runs a calibration keeps going at once, with room for a second input each. */
    static final int KEPT = 4;

    private final List<ByteBuffer> spare = new ArrayList<>();

    /** A native-order buffer of exactly {@code bytes} (position 0, limit {@code bytes}). */
    synchronized ByteBuffer take(int bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, got " + bytes);
        }
        int best = -1;
        for (int i = 0; i < spare.size(); i++) {
            int capacity = spare.get(i).capacity();
            if (capacity >= bytes && (best < 0 || capacity < spare.get(best).capacity())) {
                best = i;
            }
        }
        if (best < 0) {
            return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        }
        // by index: a ByteBuffer's equals compares the bytes it holds, not which buffer it is
        ByteBuffer buffer = spare.remove(best);
        buffer.clear().limit(bytes);
        return buffer;
    }

    /**
     * Gives buffers back after the tensors made over them are closed. When more than {@link #KEPT} would be spare, the
     * smallest are dropped (a large input's buffer serves a small one, not the other way round).
     */
    synchronized void give(Collection<ByteBuffer> buffers) {
        spare.addAll(buffers);
        while (spare.size() > KEPT) {
            int smallest = 0;
            for (int i = 1; i < spare.size(); i++) {
                if (spare.get(i).capacity() < spare.get(smallest).capacity()) {
                    smallest = i;
                }
            }
            spare.remove(smallest);
        }
    }

    /** Spare buffers now (for tests). */
    synchronized int spare() {
        return spare.size();
    }
}
