package io.condense.server.plugin;

import java.util.List;
import org.pf4j.PluginClassLoader;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginManager;

/**
 * A plugin's class loader: the shared API packages (the SDK, PF4J, Micrometer, SLF4J, protobuf and the
 * ONNX protobuf classes) always come from the host, so a plugin and the host agree on every type they
 * exchange; everything else comes from the plugin archive first, so a plugin may bundle its own versions
 * of other libraries.
 */
final class HostFirstClassLoader extends PluginClassLoader {
    static final List<String> HOST_PACKAGES = List.of(
            "io.condense.sdk.",
            "org.pf4j.",
            "io.micrometer.",
            "org.slf4j.",
            "com.google.protobuf.",
            "ai.onnx.proto.");

    static {
        registerAsParallelCapable();
    }

    HostFirstClassLoader(PluginManager pluginManager, PluginDescriptor descriptor, ClassLoader parent) {
        // plugin first for everything that is not shared
        super(pluginManager, descriptor, parent, org.pf4j.ClassLoadingStrategy.PDA);
    }

    @Override
    public Class<?> loadClass(String className) throws ClassNotFoundException {
        if (isHostClass(className)) {
            return getParent().loadClass(className);
        }
        return super.loadClass(className);
    }

    static boolean isHostClass(String className) {
        for (String prefix : HOST_PACKAGES) {
            if (className.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }
}
