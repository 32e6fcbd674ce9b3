package io.condense.it;

import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * One embedded platform (Kafka broker, API, worker) shared by the integration tests of this JVM, started
 * on first use on free loopback ports with a temporary data folder, and stopped when the JVM exits. Its
 * plugins folder holds the real archives, the test plugins compiled at test time, and two archives that
 * cannot be loaded.
 */
final class TestPlatform {
    static final long MAX_BLOB_BYTES = 64L * 1024 * 1024;

    private static CondensePlatform platform;
    private static Path pluginsFolder;
    private static Path dataFolder;

    private TestPlatform() {
    }

    static synchronized CondensePlatform get() {
        if (platform == null) {
            try {
                pluginsFolder = pluginsFolderWithTestPlugins();
                dataFolder = Files.createTempDirectory("condense-it-data-");
                platform = CondensePlatform.start(PlatformConfig.embedded(dataFolder, pluginsFolder).withMaxBlobBytes(MAX_BLOB_BYTES));
                Runtime.getRuntime().addShutdownHook(new Thread(platform::close));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return platform;
    }

    /** The platform's data folder (its blobs, broker log and scratch space). */
    static synchronized Path dataFolder() {
        get();
        return dataFolder;
    }

    static synchronized Path pluginsFolder() {
        get();
        return pluginsFolder;
    }

    /** The real archives plus explode, slow, flaky and trainprobe, an archive that needs a future SDK, and one that is not a jar. */
    static Path pluginsFolderWithTestPlugins() throws IOException {
        Path folder = Files.createTempDirectory("condense-it-plugins-");
        for (Path archive : TestEnvironment.realPluginArchives()) {
            Files.copy(archive, folder.resolve(archive.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        TestPlugins.build("explode", "explode", "1.0.0", ">=0.1.0", folder.resolve("explode-plugin-1.0.0.jar"));
        TestPlugins.build("slow", "slow", "1.0.0", ">=0.1.0", folder.resolve("slow-plugin-1.0.0.jar"));
        TestPlugins.build("flaky", "flaky", "1.0.0", ">=0.1.0", folder.resolve("flaky-plugin-1.0.0.jar"));
        TestPlugins.build("trainprobe", "trainprobe", "1.0.0", ">=0.1.0", folder.resolve("trainprobe-plugin-1.0.0.jar"));
        TestPlugins.build("explode", "future", "2.0.0", ">=99.0.0", folder.resolve("future-plugin-2.0.0.jar"));
        Files.writeString(folder.resolve("corrupt-plugin-1.0.0.jar"), "this is not a jar", StandardCharsets.UTF_8);
        return folder;
    }

    /** The quantization archive and the slow test plugin in {@code folder}: enough to run jobs, few step consumers to start. */
    static Path quantizeAndSlowPlugins(Path folder) throws IOException {
        Files.createDirectories(folder);
        for (Path archive : TestEnvironment.realPluginArchives()) {
            if (archive.getFileName().toString().startsWith("quantization-plugin")) {
                Files.copy(archive, folder.resolve(archive.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        TestPlugins.build("slow", "slow", "1.0.0", ">=0.1.0", folder.resolve("slow-plugin-1.0.0.jar"));
        return folder;
    }
}
