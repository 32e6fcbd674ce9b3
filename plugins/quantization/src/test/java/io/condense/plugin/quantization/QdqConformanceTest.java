package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.ActivationQuantization;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Our QuantizeLinear / DequantizeLinear arithmetic ({@link ActivationQuantization}, and {@link SymmetricQuantizer} where a case has
 * int8 levels with zero point 0) against the ONNX operator conformance cases of Debian's libonnx-testdata
 * ({@code /usr/share/libonnx-testdata/data/node/test_quantizelinear*}, {@code test_dequantizelinear*}): every input and expected
 * output is a TensorProto .pb file, the node's {@code axis} comes from the case's model.onnx.
 */
class QdqConformanceTest {
    static final Path CASES = Path.of(System.getProperty("condense.onnx.testdata", "/usr/share/libonnx-testdata/data/node"));

    @Test
    void quantizeAndDequantizeLinearAgreeWithTheOnnxConformanceCases() throws IOException {
        if (!Files.isDirectory(CASES)) {
            fail("the ONNX conformance cases are missing: " + CASES + " does not exist. Install Debian's libonnx-testdata "
                    + "(sudo apt-get install libonnx-testdata; ./run-tests installs it) or point -Dcondense.onnx.testdata at a copy "
                    + "of onnx/backend/test/data/node");
        }
        List<Path> cases;
        try (Stream<Path> list = Files.list(CASES)) {
            cases = list.filter(path -> {
                String name = path.getFileName().toString();
                return name.startsWith("test_quantizelinear") || name.startsWith("test_dequantizelinear");
            }).sorted().toList();
        }
        assertThat(cases).as("QuantizeLinear / DequantizeLinear cases under %s", CASES).hasSizeGreaterThanOrEqualTo(4);
        List<String> checked = new ArrayList<>();
        for (Path testCase : cases) {
            NodeProto node = OnnxModel.load(testCase.resolve("model.onnx")).nodes().get(0);
            try (Stream<Path> sets = Files.list(testCase)) {
                for (Path set : sets.filter(path -> path.getFileName().toString().startsWith("test_data_set_")).sorted().toList()) {
                    int compared = check(testCase.getFileName().toString(), node, set);
                    checked.add(testCase.getFileName() + "/" + set.getFileName() + " (" + compared + " values)");
                }
            }
        }
        assertThat(checked).as("data sets compared").hasSizeGreaterThanOrEqualTo(4);
    }

    private static int check(String name, NodeProto node, Path set) throws IOException {
        Tensor x = read(set.resolve("input_0.pb"));
        Tensor scale = read(set.resolve("input_1.pb"));
        Tensor zeroPoint = Files.exists(set.resolve("input_2.pb")) ? read(set.resolve("input_2.pb")) : null;
        Tensor expected = read(set.resolve("output_0.pb"));
        boolean quantize = node.getOpType().equals("QuantizeLinear");
        assertThat(node.getOpType()).as(name).isIn("QuantizeLinear", "DequantizeLinear");
        DataType levelType = quantize ? (zeroPoint == null ? DataType.UINT8 : zeroPoint.dataType()) : x.dataType();
        long[] shape = x.shape();
        ChannelLayout layout;
        if (scale.rank() == 0 || scale.elementCount() == 1) {
            layout = ChannelLayout.perTensor(Math.toIntExact(x.elementCount()));
        } else {
            long axis = 1;
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.getName().equals("axis")) {
                    axis = attribute.getI();
                }
            }
            layout = ChannelLayout.of(shape, Math.toIntExact(axis < 0 ? axis + shape.length : axis));
        }
        float[] scales = scale.toFloatArray();
        int[] zeroPoints = new int[scales.length];
        if (zeroPoint != null) {
            for (int c = 0; c < scales.length; c++) {
                zeroPoints[c] = (int) zeroPoint.getFloat(c);
            }
        }
        ActivationQuantization[] quantizations = new ActivationQuantization[scales.length];
        for (int c = 0; c < scales.length; c++) {
            quantizations[c] = new ActivationQuantization(levelType, scales[c], zeroPoints[c]);
        }
        int index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            for (int c = 0; c < layout.channels(); c++) {
                ActivationQuantization quantization = quantizations[layout.perChannel() ? c : 0];
                for (int k = 0; k < layout.inner(); k++, index++) {
                    if (quantize) {
                        assertThat(quantization.quantize(x.getFloat(index))).as("%s %s element %d of %s", name, set.getFileName(), index,
                                x.getFloat(index)).isEqualTo((int) expected.getFloat(index));
                    } else {
                        assertThat(quantization.dequantize((int) x.getFloat(index))).as("%s %s element %d", name, set.getFileName(), index)
                                .isEqualTo(expected.getFloat(index));
                    }
                }
            }
        }
        // int8 levels with zero point 0: the weight quantizer's arithmetic too (levels -127..127, so only where the expected level fits)
        if (quantize && levelType == DataType.INT8 && allZero(zeroPoints)) {
            float[] values = x.toFloatArray();
            byte[] levels = new byte[values.length];
            SymmetricQuantizer.quantize(values, layout, scales, levels);
            for (int i = 0; i < values.length; i++) {
                int level = (int) expected.getFloat(i);
                if (Math.abs(level) <= SymmetricQuantizer.LEVELS) {
                    assertThat((int) levels[i]).as("%s SymmetricQuantizer element %d", name, i).isEqualTo(level);
                }
            }
        }
        return index;
    }

    private static boolean allZero(int[] values) {
        for (int value : values) {
            if (value != 0) {
                return false;
            }
        }
        return true;
    }

    private static Tensor read(Path file) throws IOException {
        return Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(file)));
    }
}
