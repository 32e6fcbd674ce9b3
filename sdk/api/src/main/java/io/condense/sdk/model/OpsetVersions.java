package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The default-domain opset a model imports, against the newest a runtime runs. The onnx package's {@code
 * helper.make_model} imports its own newest opset when none is given (28 from onnx 1.23), which ONNX Runtime refuses
 * (1.29 runs up to opset 26) even for a graph of operators unchanged for years. A model imports opset N to say which
 * version of each operator it means: the newest version introduced at or before N. When none of its operators got a new
 * version between the runtime's newest opset and N, each means the same version at the runtime's newest, and the model
 * is the same model importing that one: {@link #lowered} declares it. One operator with a newer version, an operator
 * this table does not know, or local functions (with their own imports): the model as it is.
 *
 * <p>The tables are the operator schemas of the onnx package 1.23.1 ({@code onnx.defs.get_all_schemas_with_history()},
 * domain ai.onnx): every operator name, and the versions above opset 22 that introduced an operator or changed its
 * attributes, inputs, outputs or nothing visible in its schema (a change of meaning). Versions that only widened or
 * narrowed the allowed types are left out (Cast, QuantizeLinear and DequantizeLinear at 28 added the float6 types, Celu
 * and others bfloat16): a model valid at the newer opset means the same at the older one unless it uses a type the older
 * version lacks, and then it names an element type IrVersions keeps newer, or ONNX Runtime refuses the type. Hand-written
 * because no Java library carries ONNX's operator history.
 */
public final class OpsetVersions {
    /** The newest opset whose operator versions {@link #CHANGED} records. */
    static final long NEWEST_RECORDED_OPSET = 28;

    private static final Set<String> OPERATORS = Set.of(
            "Abs", "Acos", "Acosh", "Add", "AffineGrid", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
            "Attention", "AveragePool", "BatchNormalization", "Bernoulli", "BitCast", "BitShift", "BitwiseAnd",
            "BitwiseNot", "BitwiseOr", "BitwiseXor", "BlackmanWindow", "Cast", "CastLike", "CausalConvWithState",
            "Ceil", "Celu", "CenterCropPad", "Clip", "Col2Im", "Compress", "Concat", "ConcatFromSequence", "Constant",
            "ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos", "Cosh", "CumProd", "CumSum", "DFT",
            "DeformConv", "DepthToSpace", "DequantizeLinear", "Det", "Div", "Dropout", "DynamicQuantizeLinear",
            "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather",
            "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool",
            "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization", "HammingWindow", "HannWindow",
            "HardSigmoid", "HardSwish", "Hardmax", "Identity", "If", "ImageDecoder", "InstanceNormalization", "IsInf",
            "IsNaN", "LRN", "LSTM", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "LinearAttention", "Log",
            "LogSoftmax", "Loop", "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool",
            "MaxRoiPool", "MaxUnpool", "Mean", "MeanVarianceNormalization", "MelWeightMatrix", "Min", "Mish", "Mod",
            "Mul", "Multinomial", "Neg", "NegativeLogLikelihoodLoss", "NonMaxSuppression", "NonZero", "Not", "OneHot",
            "Optional", "OptionalGetElement", "OptionalHasElement", "Or", "PRelu", "Pad", "Pow", "QLinearConv",
            "QLinearMatMul", "QuantizeLinear", "RMSNormalization", "RNN", "RandomNormal", "RandomNormalLike",
            "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
            "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
            "RegexFullMatch", "Relu", "Reshape", "Resize", "ReverseSequence", "RoiAlign", "RotaryEmbedding", "Round",
            "STFT", "Scan", "Scatter", "ScatterElements", "ScatterND", "Selu", "SequenceAt", "SequenceConstruct",
            "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SequenceMap", "Shape", "Shrink",
            "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax", "SoftmaxCrossEntropyLoss", "Softplus",
            "Softsign", "SpaceToDepth", "Split", "SplitToSequence", "Sqrt", "Squeeze", "StringConcat",
            "StringNormalizer", "StringSplit", "Sub", "Sum", "SwiGLU", "Swish", "Tan", "Tanh", "TensorScatter",
            "TfIdfVectorizer", "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Unique", "Unsqueeze",
            "Upsample", "Where", "Xor");

    /**
     * Per operator, the opsets above 22 that introduced it or a version of it that means something else (absent: none up
     * to {@link #NEWEST_RECORDED_OPSET}).
     */
    private static final Map<String, int[]> CHANGED = new HashMap<>();

    static {
        CHANGED.put("Attention", new int[] {23, 24, 25});
        CHANGED.put("BitCast", new int[] {26});
        CHANGED.put("Cast", new int[] {24});
        CHANGED.put("CastLike", new int[] {24});
        CHANGED.put("CausalConvWithState", new int[] {27});
        CHANGED.put("CumProd", new int[] {26});
        CHANGED.put("DepthToSpace", new int[] {28});
        CHANGED.put("DequantizeLinear", new int[] {23});
        CHANGED.put("LinearAttention", new int[] {27});
        CHANGED.put("Mod", new int[] {28});
        CHANGED.put("QuantizeLinear", new int[] {23});
        CHANGED.put("RMSNormalization", new int[] {23});
        CHANGED.put("Range", new int[] {27});
        CHANGED.put("RotaryEmbedding", new int[] {23});
        CHANGED.put("SpaceToDepth", new int[] {28});
        CHANGED.put("SwiGLU", new int[] {28});
        CHANGED.put("Swish", new int[] {24});
        CHANGED.put("TensorScatter", new int[] {24});
    }

    private OpsetVersions() {
    }

    /**
     * The model importing opset {@code newest} of the default domain instead of a newer one, when every default-domain
     * operator it uses (in every subgraph) has the same version at both; otherwise the model as it is (a runtime then says
     * what it cannot run).
     */
    public static OnnxModel lowered(OnnxModel model, long newest) {
        requireNonNull(model, "model is null");
        ModelProto proto = model.proto();
        int index = defaultDomainImport(proto);
        if (index < 0) {
            return model;
        }
        long declared = proto.getOpsetImport(index).getVersion();
        if (declared <= newest || declared > NEWEST_RECORDED_OPSET || proto.getFunctionsCount() > 0
                || !sameVersions(proto.getGraph(), newest, declared)) {
            return model;
        }
        ModelProto.Builder builder = proto.toBuilder();
        builder.setOpsetImport(index, OperatorSetIdProto.newBuilder(proto.getOpsetImport(index)).setVersion(newest));
        return OnnxModel.of(builder.build());
    }

    private static int defaultDomainImport(ModelProto proto) {
        for (int i = 0; i < proto.getOpsetImportCount(); i++) {
            String domain = proto.getOpsetImport(i).getDomain();
            if (domain.isEmpty() || domain.equals("ai.onnx")) {
                return i;
            }
        }
        return -1;
    }

    private static boolean sameVersions(GraphProto graph, long newest, long declared) {
        for (NodeProto node : graph.getNodeList()) {
            String domain = node.getDomain();
            if (domain.isEmpty() || domain.equals("ai.onnx")) {
                if (!OPERATORS.contains(node.getOpType())) {
                    return false;
                }
                for (int version : CHANGED.getOrDefault(node.getOpType(), new int[0])) {
                    if (version > newest && version <= declared) {
                        return false;
                    }
                }
            }
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.hasG() && !sameVersions(attribute.getG(), newest, declared)) {
                    return false;
                }
                for (GraphProto subgraph : attribute.getGraphsList()) {
                    if (!sameVersions(subgraph, newest, declared)) {
                        return false;
                    }
                }
            }
        }
        return true;
    }
}
