package io.condense.server.plugin;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The optional allow-list of a plugins folder, {@value #FILE_NAME}: the SHA-256 of every archive the operator checked,
 * one a line as {@code sha256sum} writes them ({@code <64 hex digits>  <file name>}; the name is a note, the hash is
 * what counts; {@code #} starts a comment). When the file exists, an archive whose bytes hash to nothing on it is not
 * loaded: a modified or added jar is refused with a message saying so.
 */
final class PluginLock {
    static final String FILE_NAME = "plugins.lock";

    private final Path file;
    private final Set<String> hashes;

    private PluginLock(Path file, Set<String> hashes) {
        this.file = file;
        this.hashes = Set.copyOf(hashes);
    }

    /** The folder's allow-list, or empty when it has none; a malformed one stops the start, every bad line named. */
    static Optional<PluginLock> read(Path pluginsFolder) {
        Path file = pluginsFolder.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "cannot read the plugin allow-list " + file + ": " + e.getMessage(), e);
        }
        Set<String> hashes = new TreeSet<>();
        StringBuilder problems = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String hash = line.split("\\s+", 2)[0];
            if (!hash.matches("[0-9a-fA-F]{64}")) {
                problems.append("\n  line ").append(i + 1).append(": expected '<SHA-256 in 64 hex digits>  <archive name>' (sha256sum *.jar)");
                continue;
            }
            hashes.add(hash.toLowerCase(Locale.ROOT));
        }
        if (problems.length() > 0) {
            throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "the plugin allow-list " + file + " has errors:" + problems);
        }
        return Optional.of(new PluginLock(file, hashes));
    }

    /** Why this archive may not be loaded, or empty when the list has its hash. */
    Optional<String> refusal(Path archive) {
        String hash = sha256(archive);
        if (hashes.contains(hash)) {
            return Optional.empty();
        }
        return Optional.of("not on the allow-list " + file + ": its SHA-256 is " + hash + "; if this archive is the one you mean to "
                + "run, add the line '" + hash + "  " + archive.getFileName() + "' (sha256sum " + archive.getFileName() + ")");
    }

    static String sha256(Path archive) {
        try (InputStream in = new DigestInputStream(Files.newInputStream(archive), MessageDigest.getInstance("SHA-256"))) {
            MessageDigest digest = ((DigestInputStream) in).getMessageDigest();
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "cannot read the plugin archive " + archive + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
