package io.condense.sdk.eval;

import io.condense.sdk.data.NdArray;
import java.util.List;
import java.util.Map;

/** A loaded model in the runtime. Not thread-safe to close while running; running concurrently is allowed. */
public interface InferenceSession extends AutoCloseable {

    /** The model's real inputs (initializers listed as inputs excluded), with their declared shapes (-1 = dynamic). */
    List<ValueSpec> inputs();

    List<ValueSpec> outputs();

    /** Runs the model and returns every output, by name. */
    Map<String, NdArray> run(Map<String, NdArray> inputs);

    @Override
    void close();
}
