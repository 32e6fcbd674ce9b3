package io.condense.plugin.coding;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.condense.sdk.coding.PackedModelDecoder;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.model.OnnxModel;

/**
 * The Java decoder under Jazzer, from a corpus of real packed files ({@code DecoderFuzzTestInputs/<target>/}: k-means,
 * pruned with coordinates, int4, ternary; written by {@code PythonDecoderTest.writeCorpus}). The only exception allowed
 * is the documented {@link CondenseException}; anything else, an OutOfMemoryError (the fork runs with a small heap) or
 * a hang fails. Without {@code JAZZER_FUZZ=1} the seeds alone run as a regression test; with it, each target runs a
 * fixed number of executions (README "Fuzzing").
 */
class DecoderFuzzTest {
    /** Decoding limit under fuzzing: 64 MiB, far above the seeds, well below the test heap. */
    private static final long LIMIT = 64L << 20;

    /** Raw mutations: almost all stop at a CRC32C, which is the point (nothing unverified gets further). */
    @FuzzTest(maxExecutions = 20_000)
    void decode(byte[] data) {
        tryDecode(data);
    }

    /** Mutations with every CRC32C recomputed, so the fuzzer reaches the section and stream parsers. */
    @FuzzTest(maxExecutions = 50_000)
    void decodeResealed(byte[] data) {
        tryDecode(PackedFiles.reseal(data.clone()));
    }

    private static void tryDecode(byte[] data) {
        try {
            OnnxModel.fromBytes(new PackedModelDecoder(LIMIT).decode(data));
        } catch (CondenseException expected) {
            // the documented refusal
        }
    }
}
