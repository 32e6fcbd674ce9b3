package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Weight layers of float16 and bfloat16 models (exported with {@code --fp16}, say) as float32 layers for the
 * techniques, and back.
 *
 * <p>{@link #widen} turns every Conv, ConvTranspose, Gemm and MatMul whose weight is a 16-bit float initializer into a
 * float32 layer between two Casts: its 16-bit activation inputs go through {@code Cast(to=FLOAT)}, its 16-bit
 * initializers become float32 (same names, so reports name the model's own weights), and its output is cast back to
 * the model's type. Every technique then finds float32 weights where it looks and writes what it writes for float32
 * models. {@link #narrow} undoes the widening where the technique left a region of plain float arithmetic between the
 * Casts (pruned weights, low-rank factors, fewer channels): the region computes in the 16-bit type again, its float32
 * initializers narrowed, so a pruned float16 model stays float16 and no bigger. Regions that read quantized weights
 * (DequantizeLinear and the like) keep their float32 arithmetic, as ONNX Runtime runs weight-only quantized layers:
 * the integer levels replace the 16-bit weights. Values cross each boundary through one 16-bit rounding, as in the
 * input model.
 */
public final class HalfPrecisionLayers {
    private static final String WIDEN = "condense_widen/";
    private static final String NARROW = "condense_narrow/";
    /** What a region may hold and still be narrowed: the layers and the reshaping techniques write around them. */
    private static final Set<String> PLAIN_FLOAT_OPS = Set.of("Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "Reshape",
            "Transpose", "Identity", "Flatten", "Squeeze", "Unsqueeze");

    private HalfPrecisionLayers() {
    }

    private static boolean isHalf(DataType type) {
        return type == DataType.FLOAT16 || type == DataType.BFLOAT16;
    }

    /** True when some weight layer's weight is a dense float16 or bfloat16 initializer. */
    public static boolean present(OnnxModel model) {
        return !halfLayers(requireNonNull(model, "model is null")).isEmpty();
    }

    private static Map<Integer, DataType> halfLayers(OnnxModel model) {
        Map<String, InitializerInfo> infos = new HashMap<>();
        for (InitializerInfo info : model.initializers()) {
            infos.put(info.name(), info);
        }
        Map<Integer, DataType> layers = new LinkedHashMap<>();
        for (WeightLayer layer : model.weightLayers()) {
            InitializerInfo info = infos.get(layer.weightName());
            if (info != null && !info.sparse() && isHalf(info.dataType())) {
                layers.put(layer.nodeIndex(), info.dataType());
            }
        }
        return layers;
    }

    /** The model with its 16-bit weight layers computing in float32 between Casts; the model itself when it has none. */
    public static OnnxModel widen(OnnxModel model) {
        requireNonNull(model, "model is null");
        Map<Integer, DataType> layers = halfLayers(model);
        if (layers.isEmpty()) {
            return model;
        }
        List<NodeProto> nodes = model.nodes();
        Map<String, Set<Integer>> readers = readers(nodes);
        ModelEditor editor = model.edit();
        Map<String, String> floatInitializers = new HashMap<>();
        Map<String, String> floatActivations = new HashMap<>();
        for (Map.Entry<Integer, DataType> entry : layers.entrySet()) {
            NodeProto node = nodes.get(entry.getKey());
            NodeProto.Builder widened = node.toBuilder().clearInput().clearOutput();
            for (String input : node.getInputList()) {
                if (input.isEmpty()) {
                    widened.addInput(input);
                } else if (model.initializer(input).isPresent()) {
                    Tensor tensor = model.tensor(input);
                    if (!isHalf(tensor.dataType())) {
                        widened.addInput(input);
                        continue;
                    }
                    // widened in place when only widened layers read it (the usual case), else as a float32 copy
                    String name = floatInitializers.computeIfAbsent(input, original -> {
                        String target = layers.keySet().containsAll(readers.getOrDefault(original, Set.of())) ? original
                                : editor.uniqueName(original + "_float");
                        editor.putInitializer(Tensor.fromFloats(target, DataType.FLOAT, tensor.shape(), tensor.toFloatArray()).toProto());
                        return target;
                    });
                    widened.addInput(name);
                } else {
                    widened.addInput(floatActivations.computeIfAbsent(input, value -> {
                        String cast = editor.uniqueName(value + "_float");
                        editor.addNode(cast(WIDEN + value, value, cast, DataType.FLOAT));
                        return cast;
                    }));
                }
            }
            for (String output : node.getOutputList()) {
                String wide = editor.uniqueName(output + "_float");
                widened.addOutput(wide);
                editor.addNode(cast(NARROW + output, wide, output, entry.getValue()));
            }
            editor.replaceNode(entry.getKey(), widened.build());
        }
        return editor.build();
    }

    private static NodeProto cast(String name, String input, String output, DataType to) {
        return NodeProto.newBuilder().setOpType("Cast").setName(name).addInput(input).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT).setI(to.onnxCode()))
                .build();
    }

    private static Map<String, Set<Integer>> readers(List<NodeProto> nodes) {
        Map<String, Set<Integer>> readers = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i) == null) {
                continue;
            }
            for (String input : nodes.get(i).getInputList()) {
                readers.computeIfAbsent(input, value -> new LinkedHashSet<>()).add(i);
            }
        }
        return readers;
    }

    /**
     * The model with every widened region that holds only plain float arithmetic computing in its 16-bit type again;
     * regions with quantized weights keep their Casts. The model itself when {@link #widen} left nothing in it.
     */
    public static OnnxModel narrow(OnnxModel model) {
        requireNonNull(model, "model is null");
        GraphProto graph = model.graph();
        List<NodeProto> nodes = new ArrayList<>(graph.getNodeList());
        if (nodes.stream().noneMatch(node -> node.getName().startsWith(NARROW))) {
            return model;
        }
        Map<String, TensorProto> initializers = new LinkedHashMap<>();
        for (TensorProto tensor : graph.getInitializerList()) {
            initializers.put(tensor.getName(), tensor);
        }
        Set<String> graphOutputs = new HashSet<>();
        for (ValueInfoProto output : graph.getOutputList()) {
            graphOutputs.add(output.getName());
        }
        Set<String> renamedValues = new HashSet<>();
        for (int n = 0; n < nodes.size(); n++) {
            NodeProto narrowCast = nodes.get(n);
            if (narrowCast == null || !narrowCast.getName().startsWith(NARROW) || !narrowCast.getOpType().equals("Cast")) {
                continue;
            }
            Region region = region(nodes, initializers, graphOutputs, narrowCast);
            if (region == null) {
                continue;
            }
            DataType half = DataType.fromOnnx((int) NodeAttributes.getInt(narrowCast, "to", 0));
            Map<String, Set<Integer>> readers = readers(nodes);
            Map<String, String> narrowed = new HashMap<>();
            for (String name : region.floatInitializers()) {
                Set<Integer> readBy = readers.getOrDefault(name, Set.of());
                String target = region.nodes().containsAll(readBy) ? name : uniqueName(name + "_half", nodes, initializers);
                Tensor tensor = Tensor.fromProto(initializers.get(name));
                initializers.put(target, Tensor.fromFloats(target, half, tensor.shape(), tensor.toFloatArray()).toProto());
                narrowed.put(name, target);
            }
            String last = narrowCast.getInput(0);
            for (int index : region.nodes()) {
                NodeProto node = nodes.get(index);
                NodeProto.Builder rewritten = node.toBuilder().clearInput().clearOutput();
                for (String input : node.getInputList()) {
                    String source = region.widenSources().get(input);
                    rewritten.addInput(source != null ? source : narrowed.getOrDefault(input, input));
                }
                for (String output : node.getOutputList()) {
                    renamedValues.add(output);
                    rewritten.addOutput(output.equals(last) ? narrowCast.getOutput(0) : output);
                }
                nodes.set(index, rewritten.build());
            }
            nodes.set(n, null);
        }
        // widening Casts nobody reads any more, and initializers only they or the narrowed regions read
        Map<String, Set<Integer>> readers = readers(nodes);
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            if (node != null && node.getName().startsWith(WIDEN) && !readers.containsKey(node.getOutput(0))
                    && !graphOutputs.contains(node.getOutput(0))) {
                nodes.set(i, null);
            }
        }
        Set<String> used = new HashSet<>(graphOutputs);
        for (NodeProto node : present(nodes)) {
            used.addAll(node.getInputList());
        }
        GraphProto.Builder rebuilt = graph.toBuilder().clearNode().addAllNode(present(nodes)).clearInitializer().clearValueInfo();
        for (TensorProto tensor : initializers.values()) {
            if (used.contains(tensor.getName())) {
                rebuilt.addInitializer(tensor);
            }
        }
        for (ValueInfoProto value : graph.getValueInfoList()) {
            if (!renamedValues.contains(value.getName())) {
                rebuilt.addValueInfo(value);
            }
        }
        return OnnxModel.of(model.proto().toBuilder().setGraph(rebuilt).build());
    }

    private static List<NodeProto> present(List<NodeProto> nodes) {
        return nodes.stream().filter(java.util.Objects::nonNull).toList();
    }

    private static String uniqueName(String base, List<NodeProto> nodes, Map<String, TensorProto> initializers) {
        Set<String> taken = new HashSet<>(initializers.keySet());
        for (NodeProto node : present(nodes)) {
            taken.addAll(node.getOutputList());
            taken.addAll(node.getInputList());
        }
        String name = base;
        for (int i = 1; taken.contains(name); i++) {
            name = base + "_" + i;
        }
        return name;
    }

    /** The nodes between a narrowing Cast and its widening Casts, their float32 initializers and widened inputs. */
    private record Region(Set<Integer> nodes, Set<String> floatInitializers, Map<String, String> widenSources) {
    }

    /** The region that ends at {@code narrowCast}, or null when it reads anything but plain float arithmetic. */
    private static Region region(List<NodeProto> nodes, Map<String, TensorProto> initializers, Set<String> graphOutputs,
            NodeProto narrowCast) {
        Map<String, Integer> producers = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i) != null) {
                for (String output : nodes.get(i).getOutputList()) {
                    producers.put(output, i);
                }
            }
        }
        Set<Integer> members = new LinkedHashSet<>();
        Set<String> floats = new LinkedHashSet<>();
        Map<String, String> widenSources = new HashMap<>();
        Deque<String> pending = new ArrayDeque<>(List.of(narrowCast.getInput(0)));
        Set<String> seen = new HashSet<>();
        while (!pending.isEmpty()) {
            String value = pending.pop();
            if (value.isEmpty() || !seen.add(value)) {
                continue;
            }
            Integer producer = producers.get(value);
            if (producer == null) {
                TensorProto tensor = initializers.get(value);
                if (tensor == null) {
                    return null;
                }
                if (tensor.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
                    floats.add(value);
                }
                continue;
            }
            NodeProto node = nodes.get(producer);
            if (node.getName().startsWith(WIDEN) && node.getOpType().equals("Cast")) {
                widenSources.put(value, node.getInput(0));
                continue;
            }
            if (!PLAIN_FLOAT_OPS.contains(node.getOpType()) || !node.getDomain().isEmpty() || graphOutputs.contains(value)) {
                return null;
            }
            members.add(producer);
            pending.addAll(node.getInputList());
        }
        if (members.isEmpty()) {
            return null;
        }
        // nothing outside the region may read what the region computes in float32
        Map<String, Set<Integer>> readers = readers(nodes);
        int castIndex = nodes.indexOf(narrowCast);
        for (int member : members) {
            for (String output : nodes.get(member).getOutputList()) {
                for (int reader : readers.getOrDefault(output, Set.of())) {
                    if (!members.contains(reader) && reader != castIndex) {
                        return null;
                    }
                }
            }
        }
        return new Region(members, floats, widenSources);
    }
}
