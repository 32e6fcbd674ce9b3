package io.condense.server.plugin;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import org.pf4j.PluginManager;
import org.pf4j.PluginState;
import org.pf4j.PluginWrapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads every plugin archive of a folder with PF4J and offers their techniques by id. A plugin that
 * cannot be loaded is logged with its id, version and path and left out; the others keep working. Two
 * plugins offering the same technique id is a configuration error that stops the start.
 */
public final class PluginHost implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PluginHost.class);

    private final Path pluginsFolder;
    private final PluginManager pluginManager;
    private final Map<String, LoadedTechnique> techniques;
    private final List<PluginProblem> problems;

    private PluginHost(Path pluginsFolder, PluginManager pluginManager, Map<String, LoadedTechnique> techniques, List<PluginProblem> problems) {
        this.pluginsFolder = pluginsFolder;
        this.pluginManager = pluginManager;
        this.techniques = Collections.unmodifiableMap(techniques);
        this.problems = List.copyOf(problems);
    }

    public static PluginHost load(Path pluginsFolder) {
        requireNonNull(pluginsFolder, "pluginsFolder is null");
        if (!Files.isDirectory(pluginsFolder)) {
            throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "the plugins folder " + pluginsFolder.toAbsolutePath()
                    + " does not exist; build the plugins (mvn -DskipTests install) or pass --plugins DIR");
        }
        String sdkVersion = SdkVersion.current();
        HostPluginManager manager = new HostPluginManager(pluginsFolder);
        manager.setSystemVersion(sdkVersion);
        List<PluginProblem> problems = new ArrayList<>();
        Optional<PluginLock> lock = PluginLock.read(pluginsFolder);
        for (Path archive : archives(pluginsFolder)) {
            Optional<String> refusal = lock.flatMap(allowList -> allowList.refusal(archive));
            if (refusal.isPresent()) {
                String[] identity = manifestIdentity(archive);
                problems.add(new PluginProblem(identity[0], identity[1], archive, refusal.get()));
                continue;
            }
            try {
                String pluginId = manager.loadPlugin(archive);
                PluginWrapper wrapper = manager.getPlugin(pluginId);
                if (wrapper.getPluginState() == PluginState.DISABLED) {
                    String requires = wrapper.getDescriptor().getRequires();
                    problems.add(new PluginProblem(pluginId, wrapper.getDescriptor().getVersion(), archive,
                            "requires SDK " + requires + " but this server runs SDK " + sdkVersion + " (or it is listed in disabled.txt)"));
                }
            } catch (RuntimeException | LinkageError e) {
                String[] identity = manifestIdentity(archive);
                problems.add(new PluginProblem(identity[0], identity[1], archive, "cannot be loaded: " + describe(e)));
            }
        }
        manager.startPlugins();
        Map<String, LoadedTechnique> techniques = new TreeMap<>();
        for (PluginWrapper wrapper : manager.getPlugins()) {
            String pluginId = wrapper.getPluginId();
            String pluginVersion = wrapper.getDescriptor().getVersion();
            if (wrapper.getPluginState() == PluginState.DISABLED) {
                continue;
            }
            if (wrapper.getPluginState() != PluginState.STARTED) {
                problems.add(new PluginProblem(pluginId, pluginVersion, wrapper.getPluginPath(), "failed to start: "
                        + (wrapper.getFailedException() == null ? wrapper.getPluginState().toString() : describe(wrapper.getFailedException()))));
                continue;
            }
            List<LoadedTechnique> offered = new ArrayList<>();
            try {
                List<Technique> extensions = manager.getExtensions(Technique.class, pluginId);
                for (Technique technique : extensions) {
                    TechniqueDescriptor descriptor;
                    try (ContextClassLoaderSwap ignored = ContextClassLoaderSwap.to(wrapper.getPluginClassLoader())) {
                        descriptor = requireNonNull(technique.descriptor(), "descriptor() returned null");
                    }
                    offered.add(new LoadedTechnique(technique, descriptor, pluginId, pluginVersion, wrapper.getPluginPath(), wrapper.getPluginClassLoader()));
                }
            } catch (RuntimeException | LinkageError e) {
                problems.add(new PluginProblem(pluginId, pluginVersion, wrapper.getPluginPath(), "its techniques cannot be created: " + describe(e)));
                continue;
            }
            if (offered.isEmpty()) {
                problems.add(new PluginProblem(pluginId, pluginVersion, wrapper.getPluginPath(),
                        "offers no technique: no @Extension implementing io.condense.sdk.technique.Technique found in META-INF/extensions.idx"));
                continue;
            }
            for (LoadedTechnique technique : offered) {
                LoadedTechnique other = techniques.putIfAbsent(technique.id(), technique);
                if (other != null) {
                    manager.stopPlugins();
                    throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "technique '" + technique.id() + "' is offered by two plugins: '"
                            + other.pluginId() + "' " + other.pluginVersion() + " (" + other.pluginPath() + ") and '" + pluginId + "' "
                            + pluginVersion + " (" + wrapper.getPluginPath() + "); remove one of them from " + pluginsFolder);
                }
            }
        }
        for (PluginProblem problem : problems) {
            log.error("Plugin not loaded: {}", problem);
        }
        for (LoadedTechnique technique : techniques.values()) {
            log.info("Technique '{}' {} from plugin '{}' {} ({})", technique.id(), technique.descriptor().version(), technique.pluginId(),
                    technique.pluginVersion(), technique.pluginPath());
        }
        return new PluginHost(pluginsFolder, manager, techniques, problems);
    }

    public Path pluginsFolder() {
        return pluginsFolder;
    }

    /** Techniques by id, sorted. */
    public Map<String, LoadedTechnique> techniques() {
        return techniques;
    }

    public Optional<LoadedTechnique> technique(String id) {
        return Optional.ofNullable(techniques.get(id));
    }

    public List<PluginProblem> problems() {
        return problems;
    }

    @Override
    public void close() {
        pluginManager.stopPlugins();
        pluginManager.unloadPlugins();
    }

    private static List<Path> archives(Path folder) {
        try (var files = Files.list(folder)) {
            return files.filter(path -> path.getFileName().toString().endsWith(".jar") && Files.isRegularFile(path)).sorted().toList();
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "cannot list the plugins folder " + folder + ": " + e.getMessage(), e);
        }
    }

    private static String[] manifestIdentity(Path archive) {
        try (JarFile jar = new JarFile(archive.toFile())) {
            Manifest manifest = jar.getManifest();
            if (manifest == null) {
                return new String[] {"(no manifest)", "(unknown)"};
            }
            String id = manifest.getMainAttributes().getValue("Plugin-Id");
            String version = manifest.getMainAttributes().getValue("Plugin-Version");
            return new String[] {id == null ? "(no Plugin-Id)" : id, version == null ? "(no Plugin-Version)" : version};
        } catch (IOException e) {
            return new String[] {"(unreadable archive)", "(unknown)"};
        }
    }

    private static String describe(Throwable e) {
        StringBuilder text = new StringBuilder(e.toString());
        Throwable cause = e.getCause();
        while (cause != null && cause != e) {
            text.append("; caused by ").append(cause);
            e = cause;
            cause = cause.getCause();
        }
        return text.toString();
    }
}
