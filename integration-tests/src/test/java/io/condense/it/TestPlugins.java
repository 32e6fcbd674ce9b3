package io.condense.it;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.technique.Technique;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.pf4j.Extension;

/**
 * Builds plugin archives at test time, the way a third party would: their sources (in
 * src/test/resources/test-plugins/ID) are compiled against the SDK artifact and its own dependencies only,
 * with PF4J's annotation processor, and packed into a jar with the PF4J manifest.
 */
final class TestPlugins {
    private TestPlugins() {
    }

    /** Compiles the sources of test plugin {@code sourceFolder} into {@code target}. */
    static Path build(String sourceFolder, String pluginId, String version, String requires, Path target) throws IOException {
        Path work = Files.createTempDirectory("condense-test-plugin-" + pluginId);
        Path sources = work.resolve("src");
        Path classes = work.resolve("classes");
        Files.createDirectories(sources);
        Files.createDirectories(classes);
        List<String> files = new ArrayList<>();
        for (String name : List.of("ExplodeTechnique.java", "SlowTechnique.java", "FlakyTechnique.java", "TrainProbeTechnique.java",
                "HaltTechnique.java")) {
            try (InputStream in = TestPlugins.class.getResourceAsStream("/test-plugins/" + sourceFolder + "/" + name)) {
                if (in != null) {
                    Path file = sources.resolve(name);
                    Files.copy(in, file);
                    files.add(file.toString());
                }
            }
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no sources for test plugin " + sourceFolder);
        }
        String classpath = String.join(java.io.File.pathSeparator, sdkClasspath());
        List<String> arguments = new ArrayList<>(List.of(
                "--release", "17",
                "-classpath", classpath,
                "-processorpath", jarOf(Extension.class).toString(),
                "-processor", "org.pf4j.processor.ExtensionAnnotationProcessor",
                "-d", classes.toString()));
        arguments.addAll(files);
        JavaCompiler compiler = requireNonNull(ToolProvider.getSystemJavaCompiler(), "no Java compiler: run the tests on a JDK");
        StringWriter output = new StringWriter();
        OutputStream errors = new java.io.ByteArrayOutputStream();
        int result = compiler.run(null, null, errors, arguments.toArray(String[]::new));
        if (result != 0) {
            throw new IllegalStateException("test plugin " + pluginId + " does not compile:\n" + errors + output);
        }
        if (!Files.exists(classes.resolve("META-INF/extensions.idx"))) {
            throw new IllegalStateException("PF4J's annotation processor wrote no META-INF/extensions.idx for " + pluginId);
        }
        Manifest manifest = new Manifest();
        Attributes attributes = manifest.getMainAttributes();
        attributes.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        attributes.putValue("Plugin-Id", pluginId);
        attributes.putValue("Plugin-Version", version);
        attributes.putValue("Plugin-Provider", "Condense integration tests");
        attributes.putValue("Plugin-Requires", requires);
        Files.createDirectories(target.getParent());
        try (JarOutputStream jar = new JarOutputStream(Files.newOutputStream(target), manifest);
                var paths = Files.walk(classes)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                if (Files.isRegularFile(path)) {
                    jar.putNextEntry(new JarEntry(classes.relativize(path).toString().replace('\\', '/')));
                    Files.copy(path, jar);
                    jar.closeEntry();
                }
            }
        }
        return target;
    }

    /** The SDK jar and the jars its API exposes: PF4J, Micrometer, SLF4J, protobuf, the ONNX protobuf classes. */
    private static List<String> sdkClasspath() {
        List<String> jars = new ArrayList<>();
        for (Class<?> type : List.of(Technique.class, Extension.class, MeterRegistry.class, io.micrometer.common.lang.Nullable.class,
                org.slf4j.Logger.class, com.google.protobuf.Message.class, ai.onnx.proto.OnnxMl.class)) {
            String jar = jarOf(type).toString();
            if (!jars.contains(jar)) {
                jars.add(jar);
            }
        }
        return jars;
    }

    private static Path jarOf(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
