package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.tensor.DataType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * Embedding tables: a 2-D float32 initializer [rows, width] that only Gather nodes read, as their data input, along axis 0
 * (token and position embeddings of a transformer). Each becomes int8 levels with one symmetric scale per row
 * ({@code max|row| / 127}) through a DequantizeLinear on axis 0 that the Gathers read instead: 4x smaller, and each row
 * (one token's vector) keeps its own range. Weight-only quantization applies it after the layers; a table whose rows
 * are looked up is not a layer the techniques' layer selection sees, so it is found here.
 */
final class EmbeddingTables {
    /** Tables smaller than this stay float (their scales would cost more than the saving is worth). */
    static final long MIN_ELEMENTS = 256;

    record Outcome(OnnxModel model, List<Map<String, Object>> reports) {
        Outcome {
            requireNonNull(model, "model is null");
            reports = List.copyOf(reports);
        }
    }

    private EmbeddingTables() {
    }

    /**
     * Quantizes every embedding table but those {@code exclude} names (a glob or {@code regex:} matching the table's
     * name, or the name or first output of a Gather reading it, as {@code exclude} matches layers) and all of them when
     * {@code excludeGather} ({@code exclude_ops=Gather}); the excluded ones are reported as left in float.
     */
    static Outcome quantize(OnnxModel model, List<String> exclude, boolean excludeGather) {
        Map<String, List<Integer>> tables = tables(model);
        if (tables.isEmpty()) {
            return new Outcome(model, List.of());
        }
        List<Map<String, Object>> reports = new ArrayList<>();
        List<Pattern> patterns = exclude.stream().map(LayerSelection::compile).toList();
        for (var iterator = tables.entrySet().iterator(); iterator.hasNext();) {
            Map.Entry<String, List<Integer>> table = iterator.next();
            String reason = excludeGather ? "exclude_ops=Gather" : excludedBy(model, table.getKey(), table.getValue(), exclude, patterns);
            if (reason != null) {
                reports.add(Map.of("weight", table.getKey(), "op", "Gather", "role", "embedding", "quantized", false,
                        "reason", "left in float: " + reason));
                iterator.remove();
            }
        }
        if (tables.isEmpty()) {
            return new Outcome(model, reports);
        }
        ModelEditor editor = model.edit();
        try {
            editor.requireOpset("", QdqWeights.PER_AXIS_OPSET);
        } catch (CondenseException e) {
            for (String name : tables.keySet()) {
                reports.add(Map.of("weight", name, "op", "Gather", "quantized", false, "reason", "left in float: " + e.getMessage()));
            }
            return new Outcome(model, reports);
        }
        for (Map.Entry<String, List<Integer>> table : tables.entrySet()) {
            reports.add(write(editor, model, table.getKey(), table.getValue()));
        }
        return new Outcome(editor.build(), reports);
    }

    private static Map<String, Object> write(ModelEditor editor, OnnxModel model, String name, List<Integer> readers) {
        InitializerInfo info = model.initializers().stream().filter(i -> i.name().equals(name)).findFirst().orElseThrow();
        int rows = Math.toIntExact(info.shape()[0]);
        int width = Math.toIntExact(info.shape()[1]);
        float[] values = model.tensor(name).toFloatArray();
        float[] scales = new float[rows];
        byte[] levels = new byte[values.length];
        double signal = 0;
        double noise = 0;
        for (int row = 0; row < rows; row++) {
            float largest = 0;
            for (int column = 0; column < width; column++) {
                largest = Math.max(largest, Math.abs(values[row * width + column]));
            }
            float scale = largest / 127f;
            scales[row] = scale > Float.MIN_NORMAL ? scale : 1f;
            for (int column = 0; column < width; column++) {
                int index = row * width + column;
                int level = (int) Math.max(-127, Math.min(127, Math.rint(values[index] / scales[row])));
                levels[index] = (byte) level;
                double error = values[index] - level * scales[row];
                signal += (double) values[index] * values[index];
                noise += error * error;
            }
        }
        String levelsName = editor.uniqueName(name + "_quantized");
        String scaleName = editor.uniqueName(name + "_scale");
        String zeroPointName = editor.uniqueName(name + "_zero_point");
        String output = editor.uniqueName(name + "_dequantized");
        editor.putInitializer(QdqWeights.levels(levelsName, DataType.INT8, info.shape(), levels));
        editor.putInitializer(QdqWeights.scales(scaleName, scales, true));
        editor.putInitializer(QdqWeights.zeroPoint(zeroPointName, DataType.INT8, rows, true));
        editor.addNode(QdqWeights.dequantizeLinear(editor.uniqueName(name + "_DequantizeLinear"), levelsName, scaleName, zeroPointName,
                output, OptionalInt.of(0)));
        for (int reader : readers) {
            editor.replaceNode(reader, editor.node(reader).toBuilder().setInput(0, output).build());
        }
        editor.removeInitializer(name);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("weight", name);
        report.put("op", "Gather");
        report.put("role", "embedding");
        report.put("quantized", true);
        report.put("granularity", "per_row");
        report.put("bits", 8);
        report.put("shape", List.of(rows, width));
        report.put("weight_bytes_before", 4L * values.length);
        report.put("weight_bytes_after", (long) values.length + 5L * rows);
        report.put("sqnr_db", noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise));
        return report;
    }

    /** The exclude pattern that names the table or one of its Gathers (node name or first output), or null. */
    private static String excludedBy(OnnxModel model, String table, List<Integer> readers, List<String> exclude, List<Pattern> patterns) {
        for (int p = 0; p < patterns.size(); p++) {
            Pattern pattern = patterns.get(p);
            boolean matches = pattern.matcher(table).matches();
            for (int reader : readers) {
                NodeProto node = model.nodes().get(reader);
                matches |= (!node.getName().isEmpty() && pattern.matcher(node.getName()).matches())
                        || pattern.matcher(node.getOutput(0)).matches();
            }
            if (matches) {
                return "exclude matches it ('" + exclude.get(p) + "')";
            }
        }
        return null;
    }

    /** Each embedding table's name and the indices of the Gather nodes that read it. */
    static Map<String, List<Integer>> tables(OnnxModel model) {
        Map<String, List<Integer>> tables = new LinkedHashMap<>();
        List<String> outputs = model.outputs().stream().map(ValueInfoProto::getName).toList();
        for (InitializerInfo info : model.initializers()) {
            if (info.sparse() || info.dataType() != DataType.FLOAT || info.shape().length != 2 || info.elements() < MIN_ELEMENTS
                    || outputs.contains(info.name())) {
                continue;
            }
            List<Integer> readers = model.consumerIndices(info.name());
            if (!readers.isEmpty() && readers.stream().allMatch(index -> isRowLookup(model.nodes().get(index), info.name()))) {
                tables.put(info.name(), readers);
            }
        }
        return tables;
    }

    private static boolean isRowLookup(NodeProto node, String table) {
        return node.getOpType().equals("Gather") && node.getDomain().isEmpty() && node.getInput(0).equals(table)
                && !node.getInput(1).equals(table) && NodeAttributes.getInt(node, "axis", 0) == 0;
    }
}
