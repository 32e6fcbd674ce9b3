package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.regex.Pattern;

/**
 * What a technique is: its lower-case id (also its plugin id, pipeline step name and metric tag),
 * version, one-line summary, family (pruning, quantization, ...) and parameter specs. A {@code terminal} technique
 * writes a storage encoding (not ONNX, {@link TechniqueResult#packed()}): it must be the last step of a pipeline,
 * and the host refuses a pipeline with a step after it.
 */
public record TechniqueDescriptor(String id, String version, String summary, String family, List<ParameterSpec> parameters,
        boolean terminal) {
    private static final Pattern ID = Pattern.compile("[a-z][a-z0-9_]*");

    public TechniqueDescriptor {
        requireNonNull(id, "id is null");
        requireNonNull(version, "version is null");
        requireNonNull(summary, "summary is null");
        requireNonNull(family, "family is null");
        parameters = List.copyOf(requireNonNull(parameters, "parameters is null"));
        if (!ID.matcher(id).matches()) {
            throw new IllegalArgumentException("technique id must be lower case letters, digits and '_': " + id);
        }
    }

    /** A technique whose output is an ONNX model another step may take. */
    public TechniqueDescriptor(String id, String version, String summary, String family, List<ParameterSpec> parameters) {
        this(id, version, summary, family, parameters, false);
    }
}
