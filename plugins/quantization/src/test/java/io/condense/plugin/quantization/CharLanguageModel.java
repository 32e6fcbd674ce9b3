package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.Npy;
import io.condense.sdk.model.OnnxModel;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The real transformer the low-bit techniques are measured on: a GPT-style character language model trained on the King
 * James Bible ({@code src/test/python/train_char_lm.py}), its held-out text and calibration windows of the training
 * text, in {@code src/test/resources/char-lm}. Perplexity is computed here from the logits ONNX Runtime gives for each
 * window of held-out text: exp of the mean negative log-likelihood of every next character given the ones before it in
 * its window.
 */
record CharLanguageModel(Path model, Map<Character, Long> alphabet, int context, String heldOut, Dataset calibration,
        double torchHeldOutLoss) {
    private static final int WINDOWS_PER_RUN = 16;

    CharLanguageModel {
        requireNonNull(model, "model is null");
        alphabet = Map.copyOf(alphabet);
    }

    static CharLanguageModel load() {
        try {
            Path folder = Path.of(CharLanguageModel.class.getResource("/char-lm/char_gpt.onnx").toURI()).getParent();
            Properties description = new Properties();
            try (Reader reader = Files.newBufferedReader(folder.resolve("char_gpt.properties"), StandardCharsets.UTF_8)) {
                description.load(reader);
            }
            String characters = Files.readString(folder.resolve("char_gpt_alphabet.txt"), StandardCharsets.UTF_8);
            Map<Character, Long> alphabet = new HashMap<>();
            for (int i = 0; i < characters.length(); i++) {
                alphabet.put(characters.charAt(i), (long) i);
            }
            return new CharLanguageModel(folder.resolve("char_gpt.onnx"), alphabet,
                    Integer.parseInt(description.getProperty("context")),
                    Files.readString(folder.resolve("kjv_held_out.txt"), StandardCharsets.UTF_8),
                    Dataset.of(Npy.read(folder.resolve("kjv_calibration_tokens.npy"))),
                    Double.parseDouble(description.getProperty("held_out_loss_torch")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    OnnxModel onnx() {
        return OnnxModel.load(model);
    }

    /**
     * Perplexity of the model on the first {@code characters} characters of the held-out text, cut into windows of
     * {@code context}: each window reads {@code context} characters and predicts each one's successor, so every character
     * but the first is predicted once (the windows train_char_lm.py evaluates, which gives the torch figure).
     */
    double perplexity(OnnxModel candidate, int characters) throws OrtException {
        return Math.exp(meanNegativeLogLikelihood(candidate, characters));
    }

    double meanNegativeLogLikelihood(OnnxModel candidate, int characters) throws OrtException {
        int windows = (Math.min(characters, heldOut.length()) - 1) / context;
        long[] tokens = new long[windows * context + 1];
        for (int i = 0; i < tokens.length; i++) {
            Long token = alphabet.get(heldOut.charAt(i));
            if (token == null) {
                throw new IllegalArgumentException("character '" + heldOut.charAt(i) + "' is not in the model's alphabet");
            }
            tokens[i] = token;
        }
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        double sum = 0;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                OrtSession session = environment.createSession(candidate.toBytes(), options)) {
            String input = session.getInputNames().iterator().next();
            for (int first = 0; first < windows; first += WINDOWS_PER_RUN) {
                int count = Math.min(WINDOWS_PER_RUN, windows - first);
                long[] batch = new long[count * context];
                for (int w = 0; w < count; w++) {
                    System.arraycopy(tokens, (first + w) * context, batch, w * context, context);
                }
                try (OnnxTensor tensor = OnnxTensor.createTensor(environment, LongBuffer.wrap(batch), new long[] {count, context});
                        OrtSession.Result result = session.run(Map.of(input, tensor))) {
                    float[][][] logits = (float[][][]) result.get(0).getValue();
                    for (int w = 0; w < count; w++) {
                        for (int position = 0; position < context; position++) {
                            int target = (int) tokens[(first + w) * context + position + 1];
                            sum += negativeLogLikelihood(logits[w][position], target);
                        }
                    }
                }
            }
        }
        return sum / ((double) windows * context);
    }

    private static double negativeLogLikelihood(float[] logits, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (float logit : logits) {
            max = Math.max(max, logit);
        }
        double sum = 0;
        for (float logit : logits) {
            sum += Math.exp(logit - max);
        }
        return max + Math.log(sum) - logits[target];
    }
}
