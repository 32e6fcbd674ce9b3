package io.condense.plugin.pruning.channel;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.SharedData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * UltraFace detections on the shared photos (1.jpg and 2.jpg, resized to 320x240 and normalized as the detector expects:
 * ultraface/test_data/img{1,2}_input_0.pb), and how a pruned detector's compare with the original's.
 */
final class UltraFaceDetections {
    static final float FACE_THRESHOLD = 0.7f;
    static final float NMS_IOU = 0.3f;

    private UltraFaceDetections() {
    }

    static NdArray photo(int number) {
        try {
            Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(
                    SharedData.model("ultraface/test_data/img" + number + "_input_0.pb"))));
            return NdArray.ofFloats(tensor.shape(), tensor.toFloatArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    record Face(float score, float[] box) {
    }

    /** Faces after non-maximum suppression: anchors with face score above the threshold, best first. */
    static List<Face> faces(float[] scores, float[] boxes) {
        List<Face> candidates = new ArrayList<>();
        for (int anchor = 0; anchor < scores.length / 2; anchor++) {
            float score = scores[anchor * 2 + 1];
            if (score > FACE_THRESHOLD) {
                candidates.add(new Face(score, new float[] {boxes[anchor * 4], boxes[anchor * 4 + 1], boxes[anchor * 4 + 2], boxes[anchor * 4 + 3]}));
            }
        }
        candidates.sort((a, b) -> Float.compare(b.score(), a.score()));
        List<Face> kept = new ArrayList<>();
        for (Face candidate : candidates) {
            boolean suppressed = false;
            for (Face face : kept) {
                if (iou(face.box(), candidate.box()) > NMS_IOU) {
                    suppressed = true;
                    break;
                }
            }
            if (!suppressed) {
                kept.add(candidate);
            }
        }
        return kept;
    }

    static double iou(float[] a, float[] b) {
        double width = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
        double height = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
        if (width <= 0 || height <= 0) {
            return 0;
        }
        double intersection = width * height;
        double union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
        return intersection / union;
    }

    /** For each original face, the best IoU with a face of the candidate (0 when it has none). */
    static double[] bestMatches(List<Face> original, List<Face> candidate) {
        double[] best = new double[original.size()];
        for (int i = 0; i < original.size(); i++) {
            for (Face face : candidate) {
                best[i] = Math.max(best[i], iou(original.get(i).box(), face.box()));
            }
        }
        return best;
    }

    /** Pearson correlation of the face scores over every anchor. */
    static double scoreCorrelation(float[] original, float[] candidate) {
        int count = original.length / 2;
        double meanA = 0;
        double meanB = 0;
        for (int i = 0; i < count; i++) {
            meanA += original[i * 2 + 1];
            meanB += candidate[i * 2 + 1];
        }
        meanA /= count;
        meanB /= count;
        double covariance = 0;
        double varianceA = 0;
        double varianceB = 0;
        for (int i = 0; i < count; i++) {
            double a = original[i * 2 + 1] - meanA;
            double b = candidate[i * 2 + 1] - meanB;
            covariance += a * b;
            varianceA += a * a;
            varianceB += b * b;
        }
        return covariance / Math.sqrt(varianceA * varianceB);
    }
}
