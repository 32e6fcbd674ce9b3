package io.condense.plugin.pruning.channel;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Channel pruning of the UltraFace detectors (depthwise convolutions, BatchNormalization, concats) at 25% of channels, every
 * layer losing the share ({@code scope=layer}, also for bn_scale, whose default is the global threshold).
 */
class UltraFaceChannelPruningTest {

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"version-RFB-320, l1", "version-RFB-320, l2", "version-RFB-320, fpgm", "version-RFB-320, bn_scale",
            "version-slim-320, l1"})
    void quarterOfTheChannelsGoAndTheDetectorStillRuns(String name, String criterion) {
        OnnxModel original = OnnxModel.load(SharedData.model("ultraface/" + name + ".onnx"));
        TechniqueResult result = ChannelPruningTest.prune(original, ChannelPruningTest.channel("0.25", "criterion", criterion, "scope", "layer"));
        check(name, criterion, "0.25", original, result);
    }

    /** 5% exactly (channel_multiple=1: 61 of 64 channels...): most faces stay; 10% rounded to multiples of 8 (the default). */
    @ParameterizedTest(name = "{0} {1} {2} multiple {3}")
    @CsvSource({"version-RFB-320, l1, 0.05, 1", "version-RFB-320, l2, 0.05, 1", "version-RFB-320, fpgm, 0.05, 1",
            "version-RFB-320, bn_scale, 0.05, 1", "version-RFB-320, l1, 0.1, 8", "version-RFB-320, l1, 0.25, 1"})
    void fewerChannelsRemoved(String name, String criterion, String sparsity, String multiple) {
        OnnxModel original = OnnxModel.load(SharedData.model("ultraface/" + name + ".onnx"));
        TechniqueResult result = ChannelPruningTest.prune(original, ChannelPruningTest.channel(sparsity, "criterion", criterion,
                "channel_multiple", multiple, "scope", "layer"));
        check(name, criterion, sparsity, original, result);
    }

    static void check(String name, String criterion, String sparsity, OnnxModel original, TechniqueResult result) {
        OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());
        Map<String, Object> report = result.report().values();

        long macsBefore = (long) report.get("macs_before");
        long macsAfter = (long) report.get("macs_after");
        // a layer between two pruned ones keeps 3/4 of its inputs and 3/4 of its outputs: about (3/4)^2 of its MACs
        if (sparsity.equals("0.25")) {
            assertThat((double) macsAfter / macsBefore).as("MAC ratio").isBetween(0.5, 0.75);
            assertThat(pruned.serializedSize()).isLessThan(original.serializedSize() * 3 / 4);
            assertThat((long) report.get("parameters_after")).isLessThan((long) report.get("parameters_before") * 3 / 4);
        }
        // the detection heads feed Transpose/Reshape into the outputs: refused, with that reason
        assertThat(result.report().get("refused").toString()).contains("Transpose");
        assertThat((int) report.get("groups_pruned")).isGreaterThan(10);

        double[] correlations = new double[2];
        int originalFaces = 0;
        int matchedFaces = 0;
        try (InferenceSession before = Evaluators.fromServiceLoader().open(original);
                InferenceSession after = Evaluators.fromServiceLoader().open(pruned)) {
            for (int photo = 1; photo <= 2; photo++) {
                Map<String, NdArray> input = Map.of(before.inputs().get(0).name(), UltraFaceDetections.photo(photo));
                Map<String, NdArray> expected = before.run(input);
                Map<String, NdArray> actual = after.run(input);
                for (String output : List.of("scores", "boxes")) {
                    assertThat(actual.get(output).shape()).as(output).isEqualTo(expected.get(output).shape());
                    for (float value : actual.get(output).toFloatArray()) {
                        assertThat(Float.isFinite(value)).as("finite %s", output).isTrue();
                    }
                }
                float[] scoresBefore = expected.get("scores").toFloatArray();
                float[] scoresAfter = actual.get("scores").toFloatArray();
                List<UltraFaceDetections.Face> facesBefore = UltraFaceDetections.faces(scoresBefore, expected.get("boxes").toFloatArray());
                List<UltraFaceDetections.Face> facesAfter = UltraFaceDetections.faces(scoresAfter, actual.get("boxes").toFloatArray());
                double[] best = UltraFaceDetections.bestMatches(facesBefore, facesAfter);
                long matched = Arrays.stream(best).filter(iou -> iou >= 0.5).count();
                correlations[photo - 1] = UltraFaceDetections.scoreCorrelation(scoresBefore, scoresAfter);
                originalFaces += facesBefore.size();
                matchedFaces += (int) matched;
                System.out.printf("channel %s %s UltraFace %s img%d: faces (score > %.1f, NMS %.1f) original %d, pruned %d, original faces "
                                + "found again (IoU >= 0.5) %d, best IoUs %s, face score correlation over 4420 anchors %.4f%n",
                        criterion, sparsity, name, photo, UltraFaceDetections.FACE_THRESHOLD, UltraFaceDetections.NMS_IOU, facesBefore.size(),
                        facesAfter.size(), matched, Arrays.toString(Arrays.stream(best).map(v -> Math.round(v * 100) / 100.0).toArray()),
                        correlations[photo - 1]);
            }
        }
        System.out.printf("channel %s %s UltraFace %s: MACs %d -> %d (%.3f), parameters %s -> %s, file %d -> %d bytes, "
                        + "groups pruned %s, refused %s%n", criterion, sparsity, name, macsBefore, macsAfter, (double) macsAfter / macsBefore,
                report.get("parameters_before"), report.get("parameters_after"), original.serializedSize(), pruned.serializedSize(),
                report.get("groups_pruned"), report.get("groups_refused"));
        assertThat(originalFaces).isGreaterThan(0);
        if (sparsity.equals("0.05")) {
            // 5% of the channels (one in 20: MACs -9%): most faces are still found, no fine-tuning
            assertThat(matchedFaces).as("original faces found again").isGreaterThanOrEqualTo(originalFaces / 2);
            assertThat(Arrays.stream(correlations).min().orElseThrow()).as("lowest face score correlation").isGreaterThan(0.8);
        }
        // at 10% and 25% without fine-tuning the detector loses most or all of its faces (printed above and in the README):
        // pruning is exact (MaskedEquivalenceTest), the loss is the channels' share of what the network computed
    }
}
