package io.condense.server.training;

import ai.djl.engine.Engine;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;

/**
 * The JVM's one PyTorch engine (DJL), loaded on first use. DJL runs offline: the native library comes from the
 * {@code pytorch-native-cpu} jar on the class path and is unpacked into {@code ENGINE_CACHE_DIR} (or
 * {@code DJL_CACHE_DIR}, else {@code ~/.djl.ai}) once. Threads follow DJL's {@code ai.djl.pytorch.num_threads} and
 * {@code ai.djl.pytorch.num_interop_threads} system properties.
 */
final class PyTorchEngine {
    static final String ENGINE_NAME = "PyTorch";
    private static volatile Engine engine;

    private PyTorchEngine() {
    }

    static Engine get() {
        Engine loaded = engine;
        if (loaded != null) {
            return loaded;
        }
        synchronized (PyTorchEngine.class) {
            if (engine == null) {
                if (System.getProperty("ai.djl.offline") == null) {
                    System.setProperty("ai.djl.offline", "true");
                }
                try {
                    engine = Engine.getEngine(ENGINE_NAME);
                } catch (RuntimeException | LinkageError e) {
                    throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "cannot start the PyTorch training runtime (DJL "
                            + "did not load its native library): " + e.getMessage() + ". Check that pytorch-native-cpu "
                            + "(linux-x86_64) is on the class path and that ENGINE_CACHE_DIR or DJL_CACHE_DIR is writable", e);
                }
            }
            return engine;
        }
    }
}
