package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.OnnxTypes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Changes to a model, collected and applied by {@link #build()}, which sorts the graph topologically,
 * checks every node input is produced somewhere, drops initializers nothing reads and returns a new
 * {@link OnnxModel}. Node indices are those of the model the edit started from and stay valid during
 * the edit; added nodes have no index.
 *
 * <p>{@link #build()} in detail:
 * <ul>
 *   <li>nodes are sorted topologically, keeping the original order wherever the dependencies allow
 *       (added nodes go after the original ones unless something earlier reads their outputs);</li>
 *   <li>a node input that no node, initializer or graph input defines is a technique bug: INTERNAL_ERROR
 *       naming the node and the value; so is a cycle or a value produced twice;</li>
 *   <li>initializers nothing reads (no node, subgraph or graph output) are dropped, except those put with
 *       {@link #putUnreadInitializer} in this edit;</li>
 *   <li>graph inputs that name initializers (old exports) are dropped, and ir_version raised to at least 4,
 *       the version that made that legal; real graph inputs and all graph outputs are kept;</li>
 *   <li>value_info entries of values no node produces any more are dropped.</li>
 * </ul>
 *
 * <p>{@link #requireOpset} for the default domain converts the nodes already in the edit to the new
 * opset right away (see {@link OpsetUpgrader}); call it before adding nodes written for the new opset.
 */
public final class ModelEditor {
    private final OnnxModel base;
    private final Map<String, TensorProto> dense = new LinkedHashMap<>();
    private final Map<String, SparseTensorProto> sparse = new LinkedHashMap<>();
    private final List<NodeProto> slots = new ArrayList<>();
    private final List<NodeProto> added = new ArrayList<>();
    private final Map<String, Long> opsets = new LinkedHashMap<>();
    private final Set<String> usedNames = new HashSet<>();
    private final Set<String> keptUnread = new HashSet<>();
    private long irVersion;

    ModelEditor(OnnxModel base) {
        this.base = requireNonNull(base, "base is null");
        GraphProto graph = base.graph();
        for (TensorProto tensor : graph.getInitializerList()) {
            dense.put(tensor.getName(), tensor);
            usedNames.add(tensor.getName());
        }
        for (SparseTensorProto tensor : graph.getSparseInitializerList()) {
            sparse.put(tensor.getValues().getName(), tensor);
            usedNames.add(tensor.getValues().getName());
        }
        for (NodeProto node : graph.getNodeList()) {
            slots.add(node);
            remember(node);
        }
        for (ValueInfoProto value : graph.getInputList()) {
            usedNames.add(value.getName());
        }
        for (ValueInfoProto value : graph.getOutputList()) {
            usedNames.add(value.getName());
        }
        for (ValueInfoProto value : graph.getValueInfoList()) {
            usedNames.add(value.getName());
        }
        for (OperatorSetIdProto opset : base.proto().getOpsetImportList()) {
            opsets.merge(OnnxModel.normalizeDomain(opset.getDomain()), opset.getVersion(), Math::max);
        }
        irVersion = base.proto().getIrVersion();
    }

    /** Adds an initializer or replaces the one with the same name (dense or sparse). */
    public ModelEditor putInitializer(TensorProto tensor) {
        requireNonNull(tensor, "tensor is null");
        if (tensor.getName().isEmpty()) {
            throw new IllegalArgumentException("an initializer needs a name");
        }
        if (tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            throw new IllegalArgumentException("initializer '" + tensor.getName() + "' refers to external data; put it inline");
        }
        OnnxTypes.checkDataSize(tensor);
        sparse.remove(tensor.getName());
        dense.put(tensor.getName(), tensor);
        usedNames.add(tensor.getName());
        return this;
    }

    /**
     * Adds an initializer that {@link #build()} keeps although no node reads it: state for a later step, such as the float
     * weights that TTQ's fine-tuning starts from. Only this edit keeps it; a later edit of the built model drops it unless
     * that edit puts it again.
     */
    public ModelEditor putUnreadInitializer(TensorProto tensor) {
        putInitializer(tensor);
        keptUnread.add(tensor.getName());
        return this;
    }

    /** Adds a sparse initializer, replacing any dense or sparse initializer of the same name. */
    public ModelEditor putSparseInitializer(SparseTensorProto tensor) {
        requireNonNull(tensor, "tensor is null");
        String name = tensor.getValues().getName();
        if (name.isEmpty()) {
            throw new IllegalArgumentException("a sparse initializer needs a name (on its values tensor)");
        }
        OnnxTypes.checkDataSize(tensor.getValues());
        OnnxTypes.checkDataSize(tensor.getIndices());
        dense.remove(name);
        sparse.put(name, tensor);
        usedNames.add(name);
        return this;
    }

    public ModelEditor removeInitializer(String name) {
        requireNonNull(name, "name is null");
        dense.remove(name);
        sparse.remove(name);
        keptUnread.remove(name);
        return this;
    }

    /** Whether the edit currently holds a dense or sparse initializer of that name. */
    public boolean hasInitializer(String name) {
        return dense.containsKey(name) || sparse.containsKey(name);
    }

    /** Adds a node; its place in the graph is decided by the topological sort. */
    public ModelEditor addNode(NodeProto node) {
        requireNonNull(node, "node is null");
        added.add(node);
        remember(node);
        return this;
    }

    public ModelEditor replaceNode(int nodeIndex, NodeProto node) {
        requireNonNull(node, "node is null");
        checkIndex(nodeIndex);
        if (slots.get(nodeIndex) == null) {
            throw new IllegalStateException("node " + nodeIndex + " was removed in this edit");
        }
        slots.set(nodeIndex, node);
        remember(node);
        return this;
    }

    public ModelEditor removeNode(int nodeIndex) {
        checkIndex(nodeIndex);
        slots.set(nodeIndex, null);
        return this;
    }

    /**
     * Points every input of the graph's own nodes (as replaced in this edit; not the nodes added by it) that reads
     * {@code value} at {@code replacement} instead, and returns how many inputs changed.
     */
    public int replaceInput(String value, String replacement) {
        requireNonNull(value, "value is null");
        requireNonNull(replacement, "replacement is null");
        int changed = 0;
        for (int i = 0; i < slots.size(); i++) {
            NodeProto node = slots.get(i);
            if (node == null || !node.getInputList().contains(value)) {
                continue;
            }
            NodeProto.Builder builder = node.toBuilder();
            for (int input = 0; input < node.getInputCount(); input++) {
                if (node.getInput(input).equals(value)) {
                    builder.setInput(input, replacement);
                    changed++;
                }
            }
            replaceNode(i, builder.build());
        }
        return changed;
    }

    /**
     * The original index of the node that currently (as replaced in this edit) writes {@code value}, or -1 when no
     * original node does (the value is a graph input, an initializer, or written by an added node).
     */
    public int producerIndex(String value) {
        requireNonNull(value, "value is null");
        for (int i = 0; i < slots.size(); i++) {
            NodeProto node = slots.get(i);
            if (node != null && node.getOutputList().contains(value)) {
                return i;
            }
        }
        return -1;
    }

    /** The node currently at an original index (as replaced in this edit), or null once removed. */
    public NodeProto node(int nodeIndex) {
        checkIndex(nodeIndex);
        return slots.get(nodeIndex);
    }

    /**
     * Makes sure the domain is imported at least at {@code version} ("" or "ai.onnx" is the default domain).
     * For the default domain, nodes already in the edit are converted to the new version at once; an
     * operator whose meaning changed in a way Condense cannot convert fails with UNSUPPORTED_MODEL.
     */
    public ModelEditor requireOpset(String domain, long version) {
        requireNonNull(domain, "domain is null");
        if (version < 1) {
            throw new IllegalArgumentException("opset version must be >= 1, got " + version);
        }
        String key = OnnxModel.normalizeDomain(domain);
        Long current = opsets.get(key);
        if (current != null && current >= version) {
            return this;
        }
        if (key.isEmpty() && current != null) {
            OpsetUpgrader upgrader = new OpsetUpgrader(current, version, this);
            for (int i = 0; i < slots.size(); i++) {
                if (slots.get(i) != null) {
                    slots.set(i, upgrader.upgrade(slots.get(i)));
                }
            }
            for (int i = 0; i < added.size(); i++) {
                added.set(i, upgrader.upgrade(added.get(i)));
            }
        }
        opsets.put(key, version);
        if (key.isEmpty()) {
            irVersion = Math.max(irVersion, OpsetUpgrader.irVersionFor(version));
        }
        return this;
    }

    /**
     * Turns constants computed by nodes into initializers, so that {@link OnnxModel#weightLayers()} finds weights
     * wherever exporters put them: Constant nodes ({@code value}, {@code sparse_value}, {@code value_float(s)},
     * {@code value_int(s)}; paddle2onnx, tf2onnx and older PyTorch exports keep every weight in one), and Identity, Cast
     * (to a float type, or integer to int64), Reshape, Flatten, Squeeze, Unsqueeze and Transpose of a constant, chains
     * included (mnist-8 reshapes its MatMul weight from [16,4,4,10] to [256,10]; fp16 exports cast weights to float),
     * and ConstantOfShape of a constant shape up to 16 Mi elements. A {@code sparse_value} is stored dense. An Einsum that is a matrix product with a 2-D constant becomes a MatMul. Each folded value becomes an initializer
     * named after the node's output; the sources are dropped by {@link #build()} when nothing else reads them.
     * Nodes whose output is a graph output, nodes of other domains and subgraphs are left alone.
     */
    public ModelEditor foldConstants() {
        ConstantFolding.fold(this);
        return this;
    }

    /** The same as {@link #foldConstants()} (whose first part it once was); every technique calls it before choosing layers. */
    public ModelEditor foldConstantReshapes() {
        return foldConstants();
    }

    /** Stores every sparse initializer dense (same name, shape and values), for runtimes that read dense initializers only. */
    public ModelEditor densifySparseInitializers() {
        for (SparseTensorProto tensor : List.copyOf(sparse.values())) {
            putInitializer(io.condense.sdk.tensor.Tensor.fromSparseProto(tensor).toProto());
        }
        return this;
    }

    /**
     * Folds every inference-mode BatchNormalization that follows a Conv or Gemm into that layer's weight and bias (see
     * {@link BatchNormFolding} for the arithmetic and the conditions); the layer then writes the BatchNormalization's output
     * and the BatchNormalization node goes. Quantization wants this first: a BatchNormalization between a layer and its
     * QuantizeLinear keeps ONNX Runtime from fusing the layer into an integer kernel. Returns this editor; the number folded
     * is the drop in node count.
     */
    public ModelEditor foldBatchNormalization() {
        BatchNormFolding.fold(this);
        return this;
    }

    /** The original node slots of the edit (null where removed), read-only. */
    List<NodeProto> slotsView() {
        return java.util.Collections.unmodifiableList(slots);
    }

    /** The nodes added in this edit, read-only. */
    List<NodeProto> addedView() {
        return java.util.Collections.unmodifiableList(added);
    }

    /** The model the edit started from. */
    OnnxModel baseModel() {
        return base;
    }

    /** The dense initializer of that name in the edit, or null. */
    TensorProto initializerProto(String name) {
        return dense.get(name);
    }

    /** A value or node name not yet used in the model or this edit: {@code base} itself when free, else base_1, base_2... */
    public String uniqueName(String base) {
        requireNonNull(base, "base is null");
        String candidate = base;
        int suffix = 1;
        while (base.isEmpty() || usedNames.contains(candidate)) {
            candidate = base + "_" + suffix++;
            if (base.isEmpty() && !usedNames.contains(candidate)) {
                break;
            }
        }
        usedNames.add(candidate);
        return candidate;
    }

    /** The current graph state as a proto (unsorted, for shape inference during opset upgrades). */
    GraphProto snapshot() {
        GraphProto.Builder graph = base.graph().toBuilder().clearNode().clearInitializer().clearSparseInitializer();
        for (NodeProto node : slots) {
            if (node != null) {
                graph.addNode(node);
            }
        }
        graph.addAllNode(added);
        graph.addAllInitializer(dense.values());
        graph.addAllSparseInitializer(sparse.values());
        return graph.build();
    }

    public OnnxModel build() {
        GraphProto original = base.graph();
        List<NodeProto> nodes = new ArrayList<>();
        for (NodeProto node : slots) {
            if (node != null) {
                nodes.add(node);
            }
        }
        nodes.addAll(added);

        Set<String> graphInputs = new HashSet<>();
        for (ValueInfoProto input : original.getInputList()) {
            graphInputs.add(input.getName());
        }
        Map<String, Integer> producerOf = new HashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (String output : nodes.get(i).getOutputList()) {
                if (output.isEmpty()) {
                    continue;
                }
                Integer previous = producerOf.put(output, i);
                if (previous != null) {
                    throw new CondenseException(ErrorCode.INTERNAL_ERROR, "value '" + output + "' is produced by two nodes, '"
                            + OnnxModel.nodeLabel(nodes.get(previous)) + ") and '" + OnnxModel.nodeLabel(nodes.get(i))
                            + "): a technique must give every new value a unique name (ModelEditor.uniqueName)");
                }
                if (dense.containsKey(output) || sparse.containsKey(output)) {
                    throw new CondenseException(ErrorCode.INTERNAL_ERROR, "node '" + OnnxModel.nodeLabel(nodes.get(i))
                            + ") writes '" + output + "', which is also an initializer");
                }
            }
        }

        // Stable topological sort (Kahn's algorithm, always taking the ready node that came first).
        int count = nodes.size();
        List<List<Integer>> dependents = new ArrayList<>(count);
        int[] pending = new int[count];
        for (int i = 0; i < count; i++) {
            dependents.add(new ArrayList<>());
        }
        Set<String> used = new HashSet<>();
        for (int i = 0; i < count; i++) {
            NodeProto node = nodes.get(i);
            Set<String> reads = GraphNames.reads(node);
            Set<String> explicit = new HashSet<>(node.getInputList());
            for (String input : reads) {
                used.add(input);
                Integer producer = producerOf.get(input);
                if (producer != null) {
                    if (producer != i) {
                        dependents.get(producer).add(i);
                        pending[i]++;
                    }
                } else if (explicit.contains(input) && !dense.containsKey(input) && !sparse.containsKey(input)
                        && !graphInputs.contains(input)) {
                    throw new CondenseException(ErrorCode.INTERNAL_ERROR, "node '" + OnnxModel.nodeLabel(node) + ") reads '" + input
                            + "', which no node, initializer or graph input defines: the technique removed or never added it");
                }
            }
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>();
        for (int i = 0; i < count; i++) {
            if (pending[i] == 0) {
                ready.add(i);
            }
        }
        GraphProto.Builder graph = original.toBuilder().clearNode().clearInitializer().clearSparseInitializer()
                .clearInput().clearValueInfo();
        int emitted = 0;
        while (!ready.isEmpty()) {
            int next = ready.poll();
            graph.addNode(nodes.get(next));
            emitted++;
            for (int dependent : dependents.get(next)) {
                if (--pending[dependent] == 0) {
                    ready.add(dependent);
                }
            }
        }
        if (emitted != count) {
            for (int i = 0; i < count; i++) {
                if (pending[i] > 0) {
                    throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the edited graph has a cycle through node '"
                            + OnnxModel.nodeLabel(nodes.get(i)) + ")");
                }
            }
        }

        for (ValueInfoProto output : original.getOutputList()) {
            String name = output.getName();
            used.add(name);
            if (!producerOf.containsKey(name) && !dense.containsKey(name) && !sparse.containsKey(name) && !graphInputs.contains(name)) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "graph output '" + name
                        + "' is no longer produced by any node: a technique must keep the model's outputs");
            }
        }
        for (TensorProto tensor : dense.values()) {
            if (used.contains(tensor.getName()) || keptUnread.contains(tensor.getName())) {
                graph.addInitializer(tensor);
            }
        }
        for (SparseTensorProto tensor : sparse.values()) {
            if (used.contains(tensor.getValues().getName())) {
                graph.addSparseInitializer(tensor);
            }
        }
        boolean droppedInitializerInputs = false;
        for (ValueInfoProto input : original.getInputList()) {
            String name = input.getName();
            if (dense.containsKey(name) || sparse.containsKey(name) || base.isInitializer(name)) {
                droppedInitializerInputs = true;
                continue;
            }
            graph.addInput(input);
        }
        for (ValueInfoProto value : original.getValueInfoList()) {
            if (producerOf.containsKey(value.getName())) {
                graph.addValueInfo(value);
            }
        }

        ModelProto.Builder model = base.proto().toBuilder().setGraph(graph).clearOpsetImport();
        for (Map.Entry<String, Long> opset : opsets.entrySet()) {
            model.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(opset.getKey()).setVersion(opset.getValue()));
        }
        long newIrVersion = irVersion;
        if (droppedInitializerInputs || graph.getInitializerCount() + graph.getSparseInitializerCount() > 0) {
            // IR 3 required every initializer to be a graph input too
            newIrVersion = Math.max(newIrVersion, 4);
        }
        model.setIrVersion(newIrVersion);
        return OnnxModel.of(model.build());
    }

    private void remember(NodeProto node) {
        if (!node.getName().isEmpty()) {
            usedNames.add(node.getName());
        }
        usedNames.addAll(node.getOutputList());
        usedNames.addAll(node.getInputList());
    }

    private void checkIndex(int nodeIndex) {
        if (nodeIndex < 0 || nodeIndex >= slots.size()) {
            throw new IndexOutOfBoundsException("node index " + nodeIndex + " is outside the model's " + slots.size() + " nodes");
        }
    }

    void putGeneratedInitializer(TensorProto tensor) {
        dense.put(tensor.getName(), tensor);
        usedNames.add(tensor.getName());
    }
}
