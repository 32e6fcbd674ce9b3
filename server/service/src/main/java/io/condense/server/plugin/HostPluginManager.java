package io.condense.server.plugin;

import java.nio.file.Path;
import org.pf4j.JarPluginManager;
import org.pf4j.PluginLoader;

/** PF4J over a folder of plugin jars, with the host's class loading rules. */
final class HostPluginManager extends JarPluginManager {
    HostPluginManager(Path pluginsFolder) {
        super(pluginsFolder);
    }

    @Override
    protected PluginLoader createPluginLoader() {
        return new HostPluginLoader(this);
    }
}
