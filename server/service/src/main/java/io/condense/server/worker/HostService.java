package io.condense.server.worker;

import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.training.Trainer;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A service the host offers to techniques (the evaluator of condense-runtime, the trainer of condense-training),
 * found once through ServiceLoader on first use, so a worker that never trains never loads PyTorch.
 */
final class HostService<T> implements Supplier<Optional<T>> {
    private static final Logger log = LoggerFactory.getLogger(HostService.class);

    private final Class<T> type;
    private final String missing;
    private Optional<T> service;

    HostService(Class<T> type, String missing) {
        this.type = type;
        this.missing = missing;
    }

    @Override
    public synchronized Optional<T> get() {
        if (service == null) {
            service = ServiceLoader.load(type, HostService.class.getClassLoader()).findFirst();
            if (service.isEmpty()) {
                log.warn(missing);
            }
        }
        return service;
    }

    static HostService<Evaluator> evaluator() {
        return new HostService<>(Evaluator.class, "No io.condense.sdk.eval.Evaluator on the classpath: steps and jobs run without evaluation");
    }

    static HostService<Trainer> trainer() {
        return new HostService<>(Trainer.class, "No io.condense.sdk.training.Trainer on the classpath: techniques that train are refused");
    }
}
