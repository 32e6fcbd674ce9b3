package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.DataType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which weights a technique touches: every float32 weight of the model's Conv, Gemm and MatMul layers,
 * minus those excluded by name pattern or by size. A weight shared by several layers is one candidate,
 * and it is skipped when any of its layers is excluded.
 *
 * <p>Patterns are globs ({@code *} any run of characters, {@code ?} one character) matched against the
 * whole node name, the node's first output and the weight initializer's name; a pattern that starts with
 * {@code regex:} is a Java regular expression matched the same way.
 */
final class WeightSelection {

    /** A weight to change, with the layers that read it. */
    record Candidate(String weightName, List<WeightLayer> layers, long[] shape, int elements) {
        Candidate {
            requireNonNull(weightName, "weightName is null");
            layers = List.copyOf(requireNonNull(layers, "layers is null"));
            shape = requireNonNull(shape, "shape is null").clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** The names of its layers, joined with '+'. */
        String layerNames() {
            StringBuilder names = new StringBuilder();
            for (WeightLayer layer : layers) {
                if (names.length() > 0) {
                    names.append('+');
                }
                names.append(layer.displayName());
            }
            return names.toString();
        }

        /** The op types of its layers, joined with '+' (usually one). */
        String opTypes() {
            StringBuilder ops = new StringBuilder();
            for (WeightLayer layer : layers) {
                if (ops.indexOf(layer.opType()) < 0) {
                    if (ops.length() > 0) {
                        ops.append('+');
                    }
                    ops.append(layer.opType());
                }
            }
            return ops.toString();
        }
    }

    /** A weight left alone, and why. */
    record Skipped(String weightName, String layerNames, String opTypes, String reason) {
        Skipped {
            requireNonNull(weightName, "weightName is null");
            requireNonNull(layerNames, "layerNames is null");
            requireNonNull(opTypes, "opTypes is null");
            requireNonNull(reason, "reason is null");
        }

        Map<String, Object> toReport() {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", layerNames);
            entry.put("op", opTypes);
            entry.put("weight", weightName);
            entry.put("reason", reason);
            return entry;
        }
    }

    record Result(List<Candidate> candidates, List<Skipped> skipped) {
        Result {
            candidates = List.copyOf(candidates);
            skipped = List.copyOf(skipped);
        }
    }

    private final List<String> patterns;
    private final List<Pattern> compiled;
    private final long minElements;

    WeightSelection(List<String> patterns, long minElements) {
        this.patterns = List.copyOf(requireNonNull(patterns, "patterns is null"));
        this.compiled = new ArrayList<>(this.patterns.size());
        for (String pattern : this.patterns) {
            compiled.add(compile(pattern));
        }
        this.minElements = minElements;
    }

    /** Compiles one exclude pattern; a bad regular expression is reported by {@link #problem(String)}. */
    static Pattern compile(String pattern) {
        if (pattern.startsWith("regex:")) {
            return Pattern.compile(pattern.substring("regex:".length()));
        }
        StringBuilder regex = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            if (c == '*' || c == '?') {
                if (literal.length() > 0) {
                    regex.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                regex.append(c == '*' ? ".*" : ".");
            } else {
                literal.append(c);
            }
        }
        if (literal.length() > 0) {
            regex.append(Pattern.quote(literal.toString()));
        }
        return Pattern.compile(regex.toString());
    }

    /** Why a pattern cannot be used, or null when it can. */
    static String problem(String pattern) {
        try {
            compile(pattern);
            return null;
        } catch (IllegalArgumentException e) {
            return "'" + pattern + "' is not a valid regular expression: " + e.getMessage().lines().findFirst().orElse("");
        }
    }

    Result select(OnnxModel model, List<WeightLayer> layers) {
        Map<String, InitializerInfo> infos = new HashMap<>();
        for (InitializerInfo info : model.initializers()) {
            infos.put(info.name(), info);
        }
        Map<String, List<WeightLayer>> byWeight = new LinkedHashMap<>();
        for (WeightLayer layer : layers) {
            byWeight.computeIfAbsent(layer.weightName(), name -> new ArrayList<>()).add(layer);
        }
        List<Candidate> candidates = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        for (Map.Entry<String, List<WeightLayer>> entry : byWeight.entrySet()) {
            String weight = entry.getKey();
            List<WeightLayer> readers = entry.getValue();
            Candidate candidate = new Candidate(weight, readers, new long[0], 0);
            String reason = exclusion(weight, readers);
            InitializerInfo info = infos.get(weight);
            if (reason == null && info == null) {
                reason = "its weight is not a tensor type Condense reads";
            }
            if (reason == null && info.dataType() != DataType.FLOAT) {
                reason = "its weight is " + info.dataType().name().toLowerCase(Locale.ROOT) + ", not float32";
            }
            if (reason == null && info.elements() < minElements) {
                reason = "it has " + info.elements() + " weights, fewer than min_elements=" + minElements;
            }
            if (reason == null && info.elements() > Integer.MAX_VALUE - 8) {
                reason = "it has " + info.elements() + " weights, more than the 2^31 - 9 Condense handles per tensor";
            }
            if (reason != null) {
                skipped.add(new Skipped(weight, candidate.layerNames(), candidate.opTypes(), reason));
            } else {
                candidates.add(new Candidate(weight, readers, info.shape(), (int) info.elements()));
            }
        }
        return new Result(candidates, skipped);
    }

    private String exclusion(String weight, List<WeightLayer> readers) {
        for (int p = 0; p < compiled.size(); p++) {
            Pattern pattern = compiled.get(p);
            if (pattern.matcher(weight).matches()) {
                return "excluded by pattern '" + patterns.get(p) + "'";
            }
            for (WeightLayer layer : readers) {
                String nodeName = layer.node().getName();
                String output = layer.node().getOutputCount() > 0 ? layer.node().getOutput(0) : "";
                if ((!nodeName.isEmpty() && pattern.matcher(nodeName).matches()) || (!output.isEmpty() && pattern.matcher(output).matches())) {
                    return "excluded by pattern '" + patterns.get(p) + "'";
                }
            }
        }
        return null;
    }
}
