package io.condense.server.plugin;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/** A plugin archive that could not be used, and why. */
public record PluginProblem(String pluginId, String pluginVersion, Path path, String message) {
    public PluginProblem {
        requireNonNull(pluginId, "pluginId is null");
        requireNonNull(pluginVersion, "pluginVersion is null");
        requireNonNull(path, "path is null");
        requireNonNull(message, "message is null");
    }

    @Override
    public String toString() {
        return "plugin '" + pluginId + "' " + pluginVersion + " (" + path + "): " + message;
    }
}
