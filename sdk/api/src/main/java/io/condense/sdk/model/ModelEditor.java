package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;

/**
 * Changes to a model, collected and applied by {@link #build()}, which sorts the graph topologically,
 * checks every node input is produced somewhere, drops initializers nothing reads and returns a new
 * {@link OnnxModel}. Node indices are those of the model the edit started from and stay valid during
 * the edit; added nodes have no index.
 */
public final class ModelEditor {
    // API skeleton: implemented in the SDK core work.
    ModelEditor() {
        throw new UnsupportedOperationException();
    }

    /** Adds an initializer or replaces the one with the same name (dense or sparse). */
    public ModelEditor putInitializer(TensorProto tensor) {
        throw new UnsupportedOperationException();
    }

    /** Adds a sparse initializer, replacing any dense or sparse initializer of the same name. */
    public ModelEditor putSparseInitializer(SparseTensorProto tensor) {
        throw new UnsupportedOperationException();
    }

    public ModelEditor removeInitializer(String name) {
        throw new UnsupportedOperationException();
    }

    /** Adds a node; its place in the graph is decided by the topological sort. */
    public ModelEditor addNode(NodeProto node) {
        throw new UnsupportedOperationException();
    }

    public ModelEditor replaceNode(int nodeIndex, NodeProto node) {
        throw new UnsupportedOperationException();
    }

    public ModelEditor removeNode(int nodeIndex) {
        throw new UnsupportedOperationException();
    }

    /** Makes sure the domain is imported at least at {@code version} ("" is the default domain). */
    public ModelEditor requireOpset(String domain, long version) {
        throw new UnsupportedOperationException();
    }

    /** A value or node name not yet used in the model or this edit, built from {@code base}. */
    public String uniqueName(String base) {
        throw new UnsupportedOperationException();
    }

    public OnnxModel build() {
        throw new UnsupportedOperationException();
    }
}
