package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UploadCacheTest {
    /** The Python client's upload cache (it needs nothing beyond the standard library; loaded alone, without grpc). */
    private static final Path PYTHON_UPLOADS = Path.of("../../clients/python/src/condense/uploads.py");

    @Test
    void anUnchangedFileOfTheSameServerAndCallerHasItsIdAndAnyChangeLosesIt(@TempDir Path folder) throws IOException {
        Path data = Files.writeString(folder.resolve("x.npy"), "calibration");
        Path file = folder.resolve("cache").resolve("uploads.json");
        UploadCache cache = new UploadCache("127.0.0.1:1", file);
        assertThat(cache.blobId(data)).isEmpty();
        cache.remember(data, "a".repeat(64));
        assertThat(cache.blobId(data)).contains("a".repeat(64));
        // read again from the file, as the next command does; another server or caller does not see it
        assertThat(new UploadCache("127.0.0.1:1", file).blobId(data)).contains("a".repeat(64));
        assertThat(new UploadCache("127.0.0.1:2", file).blobId(data)).isEmpty();
        // the same size written again later: a new modification time
        Files.writeString(data, "Calibration");
        Files.setLastModifiedTime(data, FileTime.from(Instant.now().plusSeconds(5)));
        assertThat(new UploadCache("127.0.0.1:1", file).blobId(data)).isEmpty();
        cache.remember(data, "b".repeat(64));
        assertThat(cache.blobId(data)).contains("b".repeat(64));
        assertThat(Files.readString(file)).doesNotContain("a".repeat(64));
        cache.forget(List.of("b".repeat(64)));
        assertThat(new UploadCache("127.0.0.1:1", file).blobId(data)).isEmpty();
        assertThat(cache.blobId(folder.resolve("missing.npy"))).isEmpty();
    }

    @Test
    void aCacheFileThatCannotBeReadOnlyMeansSendingAgain(@TempDir Path folder) throws IOException {
        Path data = Files.writeString(folder.resolve("x.npy"), "x");
        Path file = Files.writeString(folder.resolve("uploads.json"), "{not json");
        UploadCache cache = new UploadCache("s", file);
        assertThat(cache.blobId(data)).isEmpty();
        cache.remember(data, "c".repeat(64));
        assertThat(new UploadCache("s", file).blobId(data)).contains("c".repeat(64));
    }

    @Test
    void theFileIsWhereThePythonClientKeepsItAndATokenScopesItsEntriesAsThere() {
        assertThat(UploadCache.defaultFile(Map.of("CONDENSE_CACHE_DIR", "/c"))).isEqualTo(Path.of("/c/uploads.json"));
        assertThat(UploadCache.defaultFile(Map.of("XDG_CACHE_HOME", "/x"))).isEqualTo(Path.of("/x/condense/uploads.json"));
        assertThat(UploadCache.defaultFile(Map.of())).isEqualTo(Path.of(System.getProperty("user.home"), ".cache", "condense", "uploads.json"));
        // hashlib.sha256(b"secret").hexdigest()[:16]
        assertThat(UploadCache.fingerprint("secret")).isEqualTo("2bb80d537b1da3e3");
    }

    @Test
    void whatThePythonClientRemembersIsFoundHereAndTheOtherWayRound(@TempDir Path folder) throws Exception {
        // modification times in nanoseconds and inodes are beyond a double's 53 bits: both must come through exactly
        Path data = Files.writeString(folder.resolve("calibration.npy"), "digits");
        Files.setLastModifiedTime(data, FileTime.from(1_796_000_000_123_456_789L, TimeUnit.NANOSECONDS));
        Path file = folder.resolve("uploads.json");
        python("UploadCache('127.0.0.1:50051', sys.argv[1]).remember(sys.argv[2], 'd' * 64)",
                file, data);
        assertThat(Files.readString(file)).contains("1796000000123456789");
        assertThat(new UploadCache("127.0.0.1:50051", file).blobId(data)).contains("d".repeat(64));

        Path other = Files.writeString(folder.resolve("model.onnx"), "model");
        new UploadCache("127.0.0.1:50051", file).remember(other, "e".repeat(64));
        assertThat(python("c = UploadCache('127.0.0.1:50051', sys.argv[1]); "
                + "print(c.blob_id(sys.argv[2]), c.blob_id(sys.argv[3]))", file, other, data))
                .isEqualTo("e".repeat(64) + " " + "d".repeat(64));
        assertThat(new UploadCache("127.0.0.1:50051", file).blobId(data)).isEqualTo(Optional.of("d".repeat(64)));
    }

    private static String python(String script, Path... arguments) throws IOException, InterruptedException {
        String load = "import importlib.util, sys; spec = importlib.util.spec_from_file_location('uploads', sys.argv.pop(1)); "
                + "uploads = importlib.util.module_from_spec(spec); spec.loader.exec_module(uploads); UploadCache = uploads.UploadCache; ";
        List<String> command = new java.util.ArrayList<>(List.of("python3", "-c", load + script, PYTHON_UPLOADS.toAbsolutePath().toString()));
        for (Path argument : arguments) {
            command.add(argument.toString());
        }
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(process.waitFor()).as(output).isZero();
        return output;
    }
}
