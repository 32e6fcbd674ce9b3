package io.condense.server.cli;

import java.nio.file.Path;

/** Where the command line looks for things when it is not told. */
public final class DefaultLocations {
    /** Set by the ./condense launcher to the repository's build/plugins folder. */
    public static final String PLUGINS_PROPERTY = "condense.plugins.dir";

    private DefaultLocations() {
    }

    /** The {@code condense.plugins.dir} system property, else {@code $CONDENSE_HOME/build/plugins}, else {@code ./build/plugins}. */
    public static Path pluginsFolder() {
        String property = System.getProperty(PLUGINS_PROPERTY);
        if (property != null && !property.isBlank()) {
            return Path.of(property);
        }
        String home = System.getenv("CONDENSE_HOME");
        if (home != null && !home.isBlank()) {
            return Path.of(home, "build", "plugins");
        }
        return Path.of("build", "plugins");
    }
}
