package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floatAttribute;
import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.intAttribute;
import static io.condense.sdk.Onnx.intsAttribute;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static io.condense.sdk.model.OnnxModelTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.SharedFiles;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ModelEditorTest {

    /** x -> Relu(a) -> Add(b, w) -> y */
    private static ModelProto chain() {
        return model(13, List.of(value("x", 1, 2)), List.of(value("y", 1, 2)),
                List.of(node("Relu", List.of("x"), List.of("a")), node("Add", List.of("a", "w"), List.of("y"))),
                List.of(floats("w", new long[] {2}, 1f, 2f), floats("unused", new long[] {1}, 5f)));
    }

    @Test
    void sortsAddedNodesBeforeTheirReadersAndKeepsTheOriginalOrder() {
        OnnxModel model = OnnxModel.of(chain());
        ModelEditor editor = model.edit();
        String scaled = editor.uniqueName("a");
        assertThat(scaled).isEqualTo("a_1");
        editor.addNode(node("Mul", List.of("a", "two"), List.of(scaled)));
        editor.putInitializer(floats("two", new long[] {1}, 2f));
        editor.replaceNode(1, node("Add", List.of(scaled, "w"), List.of("y")));
        OnnxModel edited = editor.build();
        assertThat(edited.nodes()).extracting(NodeProto::getOpType).containsExactly("Relu", "Mul", "Add");
        assertThat(edited.initializers()).extracting(InitializerInfo::name).containsExactly("w", "two");
        float[] output = Onnx.run(edited, "x", new long[] {1, 2}, new float[] {-1f, 3f}).get(0);
        assertThat(output).containsExactly(1f, 8f);
        assertThat(model.nodes()).hasSize(2); // the original is untouched
        assertThat(model.initializers()).hasSize(2);
    }

    @Test
    void dropsUnreadInitializersButKeepsThoseThisEditPutAsUnread() {
        OnnxModel edited = OnnxModel.of(chain()).edit().putUnreadInitializer(floats("state", new long[] {1}, 3f)).build();
        assertThat(edited.initializers()).extracting(InitializerInfo::name).containsExactly("w", "state");
        assertThat(edited.edit().build().initializers()).as("a later edit drops it").extracting(InitializerInfo::name)
                .containsExactly("w");
        OnnxModel removed = OnnxModel.of(chain()).edit().putUnreadInitializer(floats("state", new long[] {1}, 3f))
                .removeInitializer("state").putInitializer(floats("state", new long[] {1}, 3f)).build();
        assertThat(removed.initializers()).extracting(InitializerInfo::name).containsExactly("w");
        float[] output = Onnx.run(edited, "x", new long[] {1, 2}, new float[] {-1f, 3f}).get(0);
        assertThat(output).containsExactly(1f, 5f);
    }

    @Test
    void undefinedInputIsATechniqueBug() {
        ModelEditor editor = OnnxModel.of(chain()).edit().removeInitializer("w");
        assertError(editor::build, ErrorCode.INTERNAL_ERROR, "reads 'w'");
        assertError(() -> OnnxModel.of(chain()).edit().removeNode(0).build(), ErrorCode.INTERNAL_ERROR, "'a'");
        assertError(() -> OnnxModel.of(chain()).edit().removeNode(1).build(), ErrorCode.INTERNAL_ERROR, "graph output 'y'");
        assertError(() -> OnnxModel.of(chain()).edit().addNode(node("Relu", List.of("x"), List.of("a"))).build(),
                ErrorCode.INTERNAL_ERROR, "produced by two nodes");
        assertError(() -> OnnxModel.of(chain()).edit().replaceNode(0, node("Relu", List.of("y"), List.of("a"))).build(),
                ErrorCode.INTERNAL_ERROR, "cycle");
    }

    @Test
    void replacesInitializersDenseOrSparse() {
        OnnxModel model = OnnxModel.of(chain());
        Tensor sparseWeight = Tensor.fromFloats("w", DataType.FLOAT, new long[] {2}, new float[] {0f, 4f});
        OnnxModel sparse = model.edit().putSparseInitializer(sparseWeight.toSparseProto()).build();
        assertThat(sparse.initializer("w")).isEmpty();
        assertThat(sparse.tensor("w").toFloatArray()).containsExactly(0f, 4f);
        OnnxModel dense = sparse.edit().putInitializer(floats("w", new long[] {2}, 7f, 8f)).build();
        assertThat(dense.sparseInitializer("w")).isEmpty();
        assertThat(dense.tensor("w").toFloatArray()).containsExactly(7f, 8f);
        assertThat(dense.edit().hasInitializer("w")).isTrue();
    }

    @Test
    void buildDropsUnreadInitializersAndInitializerInputsAndStaleValueInfo() {
        OnnxModel mnist = OnnxModelTest.mnist8();
        assertThat(mnist.graph().getValueInfoCount()).isPositive();
        OnnxModel built = mnist.edit().build();
        assertThat(built.graph().getInputList()).extracting(v -> v.getName()).containsExactly("Input3");
        assertThat(built.proto().getIrVersion()).isGreaterThanOrEqualTo(4);
        assertThat(built.initializers()).hasSize(8);
        assertThat(built.graph().getValueInfoCount()).isEqualTo(mnist.graph().getValueInfoCount());

        OnnxModel simple = OnnxModel.of(chain()).edit().build();
        assertThat(simple.initializers()).extracting(InitializerInfo::name).containsExactly("w");

        // a removed node's value_info goes with it
        ModelProto withInfo = chain().toBuilder().setGraph(chain().getGraph().toBuilder().addValueInfo(value("a", 1, 2))).build();
        OnnxModel bypassed = OnnxModel.of(withInfo).edit().removeNode(0).replaceNode(1, node("Add", List.of("x", "w"), List.of("y"))).build();
        assertThat(bypassed.graph().getValueInfoCount()).isZero();
        assertThat(OnnxModel.of(withInfo).edit().build().graph().getValueInfoCount()).isEqualTo(1);
    }

    @Test
    void foldsLayoutOpsOfInitializersIntoInitializers() {
        AttributeProto shapeValue = AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR)
                .setT(Tensor.fromLongs("", new long[] {2}, new long[] {3, -1}).toProto()).build();
        ModelProto proto = model(13, List.of(value("x", 1, 3)), List.of(value("y", 1, 2), value("z", 1, 2)),
                List.of(node("Constant", List.of(), List.of("target"), shapeValue),
                        node("Reshape", List.of("w", "target"), List.of("w2")),
                        node("MatMul", List.of("x", "w2"), List.of("y")),
                        node("Flatten", List.of("v"), List.of("v2"), intAttribute("axis", 1)),
                        node("MatMul", List.of("x", "v2"), List.of("z"))),
                List.of(floats("w", new long[] {6}, 1, 2, 3, 4, 5, 6), floats("v", new long[] {3, 2, 1}, 1, 0, 0, 1, 1, 1)));
        OnnxModel model = OnnxModel.of(proto);
        assertThat(model.weightLayers()).isEmpty();
        OnnxModel folded = model.edit().foldConstantReshapes().build();
        // the Constant shape is folded too (foldConstantReshapes is foldConstants)
        assertThat(folded.nodes()).extracting(NodeProto::getOpType).containsExactly("MatMul", "MatMul");
        assertThat(folded.weightLayers()).extracting(WeightLayer::weightName).containsExactly("w2", "v2");
        assertThat(folded.tensor("w2").shape()).containsExactly(3, 2);
        assertThat(folded.tensor("v2").shape()).containsExactly(3, 2);
        assertThat(folded.isInitializer("w")).isFalse();
        float[] input = {1f, 2f, 3f};
        List<float[]> expected = Onnx.run(model, "x", new long[] {1, 3}, input);
        List<float[]> actual = Onnx.run(folded, "x", new long[] {1, 3}, input);
        assertThat(actual.get(0)).containsExactly(expected.get(0));
        assertThat(actual.get(1)).containsExactly(expected.get(1));
    }

    @Test
    void uniqueNamesAvoidEveryExistingName() {
        ModelEditor editor = OnnxModel.of(chain()).edit();
        assertThat(editor.uniqueName("fresh")).isEqualTo("fresh");
        assertThat(editor.uniqueName("fresh")).isEqualTo("fresh_1");
        assertThat(editor.uniqueName("w")).isEqualTo("w_1");
        assertThat(editor.uniqueName("x")).isEqualTo("x_1");
        assertThat(editor.uniqueName("Relu_a")).isEqualTo("Relu_a_1");
    }

    @Test
    void requireOpsetForAnotherDomainOnlyAddsTheImport() {
        OnnxModel edited = OnnxModel.of(chain()).edit().requireOpset("com.microsoft", 1).requireOpset("", 11).build();
        assertThat(edited.opsetVersion("com.microsoft")).contains(1L);
        assertThat(edited.opsetVersion("")).contains(13L); // never lowered
    }

    @Test
    void upgradesMnist8ToOpset13WithTheSameOutputs() throws IOException {
        OnnxModel model = OnnxModelTest.mnist8();
        OnnxModel upgraded = model.edit().requireOpset("ai.onnx", 13).build();
        assertThat(upgraded.opsetVersion("")).contains(13L);
        assertThat(upgraded.proto().getIrVersion()).isGreaterThanOrEqualTo(7);
        long[] shape = {1, 1, 28, 28};
        float[] input = OnnxModelTest.mnistInput();
        assertThat(Onnx.run(upgraded, "Input3", shape, input).get(0))
                .containsExactly(Onnx.run(model, "Input3", shape, input).get(0), within(1e-5f));
    }

    @Test
    void upgradesPytorchCnnToOpset13WithTheSameOutputs() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/pytorch_cnn_mnist.onnx"));
        OnnxModel upgraded = model.edit().requireOpset("", 13).build();
        long[] shape = {2, 1, 28, 28};
        float[] input = random(2 * 28 * 28, 255f);
        assertThat(Onnx.run(upgraded, "input_image", shape, input).get(0))
                .containsExactly(Onnx.run(model, "input_image", shape, input).get(0), within(1e-4f));
        NodeProto logSoftmax = upgraded.nodes().stream().filter(n -> n.getOpType().equals("LogSoftmax")).findFirst().orElseThrow();
        assertThat(logSoftmax.getAttribute(0).getI()).isEqualTo(1);
    }

    @Test
    void upgradesUltrafaceToOpset13WithTheSameOutputs() throws IOException {
        for (String name : List.of("version-RFB-320.onnx", "version-slim-320.onnx")) {
            OnnxModel model = OnnxModel.load(SharedFiles.require("models/ultraface/" + name));
            OnnxModel upgraded = model.edit().requireOpset("", 13).build();
            assertThat(upgraded.nodes()).filteredOn(n -> n.getOpType().equals("Unsqueeze"))
                    .allSatisfy(n -> assertThat(n.getInputCount()).isEqualTo(2));
            assertThat(upgraded.nodes()).filteredOn(n -> n.getOpType().equals("Slice"))
                    .allSatisfy(n -> assertThat(n.getAttributeCount()).isZero());
            TensorProto image = TensorProto.parseFrom(Files.readAllBytes(SharedFiles.require("models/ultraface/test_data/img1_input_0.pb")));
            float[] input = Tensor.fromProto(image).toFloatArray();
            long[] shape = {1, 3, 240, 320};
            List<float[]> expected = Onnx.run(model, "input", shape, input);
            List<float[]> actual = Onnx.run(upgraded, "input", shape, input);
            assertThat(actual).hasSize(2);
            for (int i = 0; i < 2; i++) {
                assertThat(actual.get(i)).as(name + " output " + i).containsExactly(expected.get(i), within(1e-4f));
            }
        }
    }

    @Test
    void upgradesRecurrentLayersWithTheSameOutputs() {
        // what a PyTorch LSTM exports (opset 13); blocked int4 weights need opset 21
        int hidden = 3;
        int inputSize = 2;
        Tensor w = Tensor.fromFloats("W", DataType.FLOAT, new long[] {1, 4 * hidden, inputSize}, random(4 * hidden * inputSize, 1f));
        Tensor r = Tensor.fromFloats("R", DataType.FLOAT, new long[] {1, 4 * hidden, hidden}, random(4 * hidden * hidden, 1f));
        List<NodeProto> nodes = List.of(
                node("LSTM", List.of("x", "W", "R"), List.of("y", "h"), intAttribute("hidden_size", hidden)));
        OnnxModel model = OnnxModel.of(model(13, List.of(value("x", 4, 1, inputSize)), List.of(value("h", 1, 1, hidden)), nodes,
                List.of(w.toProto(), r.toProto())));
        OnnxModel upgraded = model.edit().requireOpset("", 21).build();
        assertThat(upgraded.opsetVersion("")).contains(21L);
        float[] input = random(4 * inputSize, 1f);
        assertThat(Onnx.run(upgraded, "x", new long[] {4, 1, inputSize}, input).get(0))
                .containsExactly(Onnx.run(model, "x", new long[] {4, 1, inputSize}, input).get(0), within(1e-6f));
    }

    @Test
    void convertsClipPadSqueezeReduceSumSplitAndDropout() {
        List<NodeProto> nodes = List.of(
                node("Clip", List.of("x"), List.of("c"), floatAttribute("min", -1f), floatAttribute("max", 1f)),
                node("Pad", List.of("c"), List.of("p"), intsAttribute("pads", 0, 1, 0, 1), floatAttribute("value", 5f)),
                node("Unsqueeze", List.of("p"), List.of("u"), intsAttribute("axes", 0)),
                node("Squeeze", List.of("u"), List.of("s"), intsAttribute("axes", 0)),
                node("Dropout", List.of("s"), List.of("d", "mask"), floatAttribute("ratio", 0.5f)),
                node("Split", List.of("d"), List.of("left", "right"), intAttribute("axis", 1), intsAttribute("split", 1, 3)),
                node("ReduceSum", List.of("right"), List.of("y"), intsAttribute("axes", 1), intAttribute("keepdims", 1)),
                node("Softmax", List.of("left"), List.of("z"), intAttribute("axis", 1)));
        ModelProto proto = model(9, List.of(value("x", 2, 2)), List.of(value("y", 2, 1), value("z", 2, 1)), nodes, List.of());
        OnnxModel model = OnnxModel.of(proto.toBuilder().setOpsetImport(0, OperatorSetIdProto.newBuilder().setVersion(6)).build());
        OnnxModel upgraded = model.edit().requireOpset("", 13).build();
        assertThat(upgraded.nodes()).extracting(NodeProto::getOpType)
                .containsExactly("Clip", "Pad", "Unsqueeze", "Squeeze", "Identity", "Split", "ReduceSum", "Softmax");
        for (NodeProto node : upgraded.nodes()) {
            for (AttributeProto attribute : node.getAttributeList()) {
                assertThat(attribute.getName()).isIn("keepdims", "axis", "mode");
            }
        }
        float[] input = {-3f, 0.5f, 2f, -0.25f};
        List<float[]> outputs = Onnx.run(upgraded, "x", new long[] {2, 2}, input);
        // clip -> [[-1, .5], [1, -.25]]; pad with 5 -> [[5,-1,.5,5],[5,1,-.25,5]]; split 1|3; sum of the 3 right columns
        assertThat(outputs.get(0)).containsExactly(4.5f, 5.75f);
        assertThat(outputs.get(1)).containsExactly(1f, 1f);
    }

    @Test
    void transformerOperatorsOfOpsetSeventeenUpgradeToTwentyOneWithTheSameOutputs() {
        // a pre-LN attention score path as torch.onnx.export writes it at opset 17: LayerNormalization, a causal Trilu mask
        List<NodeProto> nodes = List.of(
                node("LayerNormalization", List.of("x", "gamma", "beta"), List.of("n"), intAttribute("axis", -1)),
                node("Trilu", List.of("n"), List.of("t"), intAttribute("upper", 0)),
                node("Softmax", List.of("t"), List.of("y"), intAttribute("axis", -1)));
        ModelProto proto = model(17, List.of(value("x", 2, 3, 3)), List.of(value("y", 2, 3, 3)), nodes,
                List.of(floats("gamma", new long[] {3}, 1f, 2f, 0.5f), floats("beta", new long[] {3}, 0f, 0.1f, -0.2f)));
        OnnxModel upgraded = OnnxModel.of(proto).edit().requireOpset("", 21).build();
        assertThat(upgraded.opsetVersion("")).contains(21L);
        assertThat(upgraded.nodes()).extracting(NodeProto::getOpType).containsExactly("LayerNormalization", "Trilu", "Softmax");
        float[] input = random(18, 3f);
        assertThat(Onnx.run(upgraded, "x", new long[] {2, 3, 3}, input).get(0))
                .containsExactly(Onnx.run(OnnxModel.of(proto), "x", new long[] {2, 3, 3}, input).get(0));
    }

    @Test
    void upsampleAndResizeTenThatEnlargeBecomeResizeElevenWithTheSameOutputs() {
        float[] input = new float[2 * 3 * 5];
        for (int i = 0; i < input.length; i++) {
            input[i] = (float) Math.sin(i * 0.7) * 3;
        }
        for (String op : List.of("Upsample", "Resize")) {
            for (String mode : List.of("nearest", "linear")) {
                AttributeProto modeAttribute = AttributeProto.newBuilder().setName("mode").setType(AttributeProto.AttributeType.STRING)
                        .setS(com.google.protobuf.ByteString.copyFromUtf8(mode)).build();
                ModelProto old = model(op.equals("Upsample") ? 9 : 10, List.of(value("x", 1, 2, 3, 5)), List.of(value("y", 1, 2, 6, 15)),
                        List.of(node(op, List.of("x", "scales"), List.of("y"), modeAttribute)),
                        List.of(floats("scales", new long[] {4}, 1f, 1f, 2f, 3f)));
                OnnxModel upgraded = OnnxModel.of(old).edit().requireOpset("", 13).build();
                assertThat(upgraded.nodes()).extracting(NodeProto::getOpType).as("%s %s", op, mode).containsExactly("Resize");
                assertThat(Onnx.run(upgraded, "x", new long[] {1, 2, 3, 5}, input).get(0)).as("%s %s", op, mode)
                        .containsExactly(Onnx.run(OnnxModel.of(old), "x", new long[] {1, 2, 3, 5}, input).get(0));
            }
        }
    }

    @Test
    void refusesOperatorsItCannotProveUnchanged() {
        ModelProto upsample = model(9, List.of(value("x", 1, 1, 4, 4)), List.of(value("y", 1, 1, 2, 2)),
                List.of(node("Upsample", List.of("x", "scales"), List.of("y"))),
                List.of(floats("scales", new long[] {4}, 1f, 1f, 0.5f, 0.5f)));
        assertError(() -> OnnxModel.of(upsample).edit().requireOpset("", 13), ErrorCode.UNSUPPORTED_MODEL, "Upsample");
        assertError(() -> OnnxModel.of(upsample).edit().requireOpset("", 13), ErrorCode.UNSUPPORTED_MODEL, "from opset 9 to 13");

        ModelProto unknown = model(9, List.of(value("x", 2)), List.of(value("y", 2)),
                List.of(node("MadeUpOp", List.of("x"), List.of("y"))), List.of());
        assertError(() -> OnnxModel.of(unknown).edit().requireOpset("", 13), ErrorCode.UNSUPPORTED_MODEL, "MadeUpOp");

        ModelProto softmax = model(9, List.of(value("x", 2, 3, 4)), List.of(value("y", 2, 3, 4)),
                List.of(node("Softmax", List.of("x"), List.of("y"))), List.of());
        assertError(() -> OnnxModel.of(softmax).edit().requireOpset("", 13), ErrorCode.UNSUPPORTED_MODEL, "not the last axis");
        ModelProto lastAxis = model(9, List.of(value("x", 2, 3, 1)), List.of(value("y", 2, 3, 1)),
                List.of(node("Softmax", List.of("x"), List.of("y"))), List.of());
        assertThat(OnnxModel.of(lastAxis).edit().requireOpset("", 13).build().nodes().get(0).getAttribute(0).getI()).isEqualTo(1);

        ModelProto mask = model(9, List.of(value("x", 2)), List.of(value("y", 2), value("m", 2)),
                List.of(node("Dropout", List.of("x"), List.of("y", "m"))), List.of());
        assertError(() -> OnnxModel.of(mask).edit().requireOpset("", 13), ErrorCode.UNSUPPORTED_MODEL, "mask");
    }

    @Test
    void nodesAddedAfterTheUpgradeAreKeptAsWritten() {
        OnnxModel model = OnnxModelTest.mnist8();
        ModelEditor editor = model.edit().requireOpset("", 13);
        String weight = "Parameter5";
        Tensor original = model.tensor(weight);
        float[] values = original.toFloatArray();
        int[] quantized = new int[values.length];
        float scale = 0f;
        for (float value : values) {
            scale = Math.max(scale, Math.abs(value) / 127f);
        }
        for (int i = 0; i < values.length; i++) {
            quantized[i] = Math.round(values[i] / scale);
        }
        String quantizedName = editor.uniqueName(weight + "_quantized");
        String scaleName = editor.uniqueName(weight + "_scale");
        String dequantized = editor.uniqueName(weight + "_dequantized");
        editor.putInitializer(Tensor.fromInts(quantizedName, DataType.INT8, original.shape(), quantized).toProto());
        editor.putInitializer(floats(scaleName, new long[0], scale));
        editor.addNode(node("DequantizeLinear", List.of(quantizedName, scaleName), List.of(dequantized)));
        int conv = model.weightLayers().get(0).nodeIndex();
        NodeProto node = editor.node(conv);
        editor.replaceNode(conv, node.toBuilder().setInput(1, dequantized).build());
        OnnxModel quantizedModel = editor.build();
        assertThat(quantizedModel.isInitializer(weight)).isFalse();
        List<String> ops = quantizedModel.nodes().stream().map(NodeProto::getOpType).toList();
        assertThat(ops.indexOf("DequantizeLinear")).isEqualTo(ops.indexOf("Conv") - 1); // placed just before its reader
        float[] input = random(784, 1f);
        float[] expected = Onnx.run(model, "Input3", new long[] {1, 1, 28, 28}, input).get(0);
        float[] actual = Onnx.run(quantizedModel, "Input3", new long[] {1, 1, 28, 28}, input).get(0);
        assertThat(actual).containsExactly(expected, within(0.5f));
    }

    @Test
    void nodesAlreadyInTheNewFormSurviveALaterUpgrade() {
        ModelProto proto = model(9, List.of(value("x", 1, 3)), List.of(value("y", 1, 3)),
                List.of(node("Relu", List.of("x"), List.of("r")), node("Identity", List.of("r"), List.of("y"))), List.of());
        OnnxModel model = OnnxModel.of(proto);
        ModelEditor editor = model.edit();
        editor.putInitializer(floats("low", new long[0], 0.5f)).putInitializer(floats("high", new long[0], 2f));
        editor.addNode(node("Clip", List.of("r", "low", "high"), List.of("clipped")));
        editor.replaceNode(1, node("Identity", List.of("clipped"), List.of("y")));
        OnnxModel upgraded = editor.requireOpset("", 13).build();
        NodeProto clip = upgraded.nodes().stream().filter(n -> n.getOpType().equals("Clip")).findFirst().orElseThrow();
        assertThat(clip.getInputList()).containsExactly("r", "low", "high");
        assertThat(Onnx.run(upgraded, "x", new long[] {1, 3}, new float[] {-1f, 1f, 5f}).get(0)).containsExactly(0.5f, 1f, 2f);
    }

    static float[] random(int count, float scale) {
        SplittableRandom random = new SplittableRandom(1);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextDouble() * scale;
        }
        return values;
    }

}
