package io.condense.server.plugin;

import java.nio.file.Files;
import java.nio.file.Path;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginLoader;
import org.pf4j.PluginManager;
import org.pf4j.util.FileUtils;

/** Loads a plugin archive (a jar) with a {@link HostFirstClassLoader}. */
final class HostPluginLoader implements PluginLoader {
    private final PluginManager pluginManager;

    HostPluginLoader(PluginManager pluginManager) {
        this.pluginManager = pluginManager;
    }

    @Override
    public boolean isApplicable(Path pluginPath) {
        return Files.exists(pluginPath) && FileUtils.isJarFile(pluginPath);
    }

    @Override
    public ClassLoader loadPlugin(Path pluginPath, PluginDescriptor descriptor) {
        HostFirstClassLoader loader = new HostFirstClassLoader(pluginManager, descriptor, HostPluginLoader.class.getClassLoader());
        loader.addFile(pluginPath.toFile());
        return loader;
    }
}
