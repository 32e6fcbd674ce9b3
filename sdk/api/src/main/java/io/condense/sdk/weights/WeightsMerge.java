package io.condense.sdk.weights;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts pushed tensors into a model in place of its initializers of the same name, after checking every one against the
 * model: the name must be one of its dense initializers, the dtype and shape must be the initializer's, and floating-point
 * values must be finite. An update may hold only some of the initializers (a delta); the others stay as they are. Every
 * problem of every tensor is reported at once, each naming its tensor, and nothing is merged when there is one.
 */
public final class WeightsMerge {
    /** At most this many problems are listed in one refusal. */
    private static final int MAX_LISTED = 20;

    private WeightsMerge() {
    }

    /** The model with the update's tensors in place; INVALID_DATA listing every problem otherwise. */
    public static OnnxModel merge(OnnxModel model, Map<String, Tensor> update) {
        requireNonNull(model, "model is null");
        check(model.initializers(), update);
        ModelEditor edit = model.edit();
        for (Map.Entry<String, Tensor> entry : update.entrySet()) {
            edit.putInitializer(entry.getValue().withName(entry.getKey()).toProto());
        }
        return edit.build();
    }

    /**
     * Checks an update against a model's initializers without merging it (names, dtypes, shapes, finite values): what a
     * merge into any version of that model would refuse. INVALID_DATA listing every problem.
     */
    public static void check(List<InitializerInfo> modelInitializers, Map<String, Tensor> update) {
        requireNonNull(modelInitializers, "modelInitializers is null");
        requireNonNull(update, "update is null");
        if (update.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the update holds no tensors; push at least one initializer of the model");
        }
        Map<String, InitializerInfo> initializers = new LinkedHashMap<>();
        for (InitializerInfo info : modelInitializers) {
            initializers.put(info.name(), info);
        }
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> entry : update.entrySet()) {
            String problem = problem(entry.getKey(), entry.getValue(), initializers.get(entry.getKey()), initializers);
            if (problem != null) {
                problems.add(problem);
            }
        }
        if (!problems.isEmpty()) {
            List<String> listed = problems.subList(0, Math.min(problems.size(), MAX_LISTED));
            throw new CondenseException(ErrorCode.INVALID_DATA, "the update was refused (" + problems.size() + " problem"
                    + (problems.size() == 1 ? "" : "s") + "): " + String.join("; ", listed)
                    + (problems.size() > listed.size() ? "; and " + (problems.size() - listed.size()) + " more" : ""));
        }
    }

    private static String problem(String name, Tensor tensor, InitializerInfo target, Map<String, InitializerInfo> initializers) {
        if (target == null) {
            return "tensor '" + name + "' is not an initializer of the model (it has " + initializers.size() + ": "
                    + String.join(", ", initializers.keySet().stream().limit(8).toList()) + (initializers.size() > 8 ? ", ..." : "") + ")";
        }
        if (target.sparse()) {
            return "tensor '" + name + "' is a sparse initializer of the model; only dense initializers can be replaced";
        }
        if (tensor.dataType() != target.dataType()) {
            return "tensor '" + name + "' is " + tensor.dataType() + " but the model's initializer is " + target.dataType()
                    + "; convert it before pushing";
        }
        if (!Arrays.equals(tensor.shape(), target.shape())) {
            return "tensor '" + name + "' has shape " + Arrays.toString(tensor.shape()) + " but the model's initializer has shape "
                    + Arrays.toString(target.shape());
        }
        long nonFinite = tensor.indexOfNonFinite();
        if (nonFinite >= 0) {
            return "tensor '" + name + "' holds " + tensor.getFloat(nonFinite) + " at flat index " + nonFinite
                    + " (training diverged?); only finite values are accepted";
        }
        return null;
    }
}
