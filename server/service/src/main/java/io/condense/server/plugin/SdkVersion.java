package io.condense.server.plugin;

import io.condense.sdk.technique.Technique;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The version of the SDK the host runs, checked against each plugin's {@code Plugin-Requires}. */
public final class SdkVersion {
    private static final String POM_PROPERTIES = "META-INF/maven/io.condense/condense-sdk/pom.properties";

    private SdkVersion() {
    }

    /** The SDK's release version ("0.1.0" for 0.1.0-SNAPSHOT, so a plugin requiring >=0.1.0 loads on a snapshot). */
    public static String current() {
        try (InputStream in = Technique.class.getClassLoader().getResourceAsStream(POM_PROPERTIES)) {
            if (in == null) {
                throw new IllegalStateException("the SDK jar has no " + POM_PROPERTIES + "; cannot check plugin requirements");
            }
            Properties properties = new Properties();
            properties.load(in);
            String version = properties.getProperty("version");
            int qualifier = version.indexOf('-');
            return qualifier < 0 ? version : version.substring(0, qualifier);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the SDK version", e);
        }
    }
}
