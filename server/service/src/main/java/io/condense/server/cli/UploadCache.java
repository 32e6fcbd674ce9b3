package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The blob ids of files this user has uploaded, so that {@code compress --server} run again with the same model or data
 * does not send them again: the same file and format as the Python client's ({@code clients/python/src/condense/uploads.py}),
 * so either command line reuses what the other sent.
 *
 * <p>The server stores every upload under the SHA-256 of its bytes, so a file unchanged since it was sent has the same id.
 * Each entry remembers, for one server and one caller (a hash of the token), a file's absolute path, size, modification
 * time in nanoseconds and inode with the id the server answered; a file whose size, time or inode differ is sent again.
 * Nothing is hashed here: the id is the server's answer. An id the server no longer holds makes Submit answer NOT_FOUND;
 * the command then forgets it, sends the file and submits again. The file is {@code $CONDENSE_CACHE_DIR/uploads.json}, or
 * {@code $XDG_CACHE_HOME/condense/uploads.json} ({@code ~/.cache/condense}), the newest {@link #MAX_ENTRIES}. Times and
 * inodes are integers beyond a double's 53 bits, so the file is read with Gson's exact numbers, not protobuf's JSON.
 */
final class UploadCache {
    static final int MAX_ENTRIES = 256;

    private final String scope;
    private final Path file;
    private List<JsonElement> entries;

    UploadCache(String scope, Path file) {
        this.scope = requireNonNull(scope, "scope is null");
        this.file = requireNonNull(file, "file is null");
    }

    /** The cache of one server (as the command names it) and caller: with a token, the server and the token's fingerprint. */
    static UploadCache of(String server, Optional<String> token) {
        String scope = token.map(t -> server + " " + fingerprint(t)).orElse(server);
        return new UploadCache(scope, defaultFile(System.getenv()));
    }

    static Path defaultFile(Map<String, String> environment) {
        String folder = environment.get("CONDENSE_CACHE_DIR");
        if (folder == null || folder.isEmpty()) {
            String cache = environment.get("XDG_CACHE_HOME");
            folder = (cache == null || cache.isEmpty() ? Path.of(System.getProperty("user.home"), ".cache") : Path.of(cache))
                    .resolve("condense").toString();
        }
        return Path.of(folder, "uploads.json");
    }

    /** The first 16 hex digits of the token's SHA-256, as the Python client scopes its entries. */
    static String fingerprint(String token) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The blob id this file was stored under on this server, if it was sent and has not changed since. */
    Optional<String> blobId(Path path) {
        Optional<JsonArray> identity = identity(path);
        if (identity.isEmpty()) {
            return Optional.empty();
        }
        for (JsonElement entry : entries()) {
            if (ours(entry) && same(identity.get(), entry.getAsJsonObject().get("file"))) {
                JsonElement id = entry.getAsJsonObject().get("blob_id");
                return id != null && id.isJsonPrimitive() ? Optional.of(id.getAsString()) : Optional.empty();
            }
        }
        return Optional.empty();
    }

    /** Records that this file, as it is now, is stored under {@code blobId}. */
    void remember(Path path, String blobId) {
        Optional<JsonArray> identity = identity(path);
        if (identity.isEmpty()) {
            return;
        }
        JsonElement name = identity.get().get(0);
        List<JsonElement> kept = new ArrayList<>();
        for (JsonElement entry : entries()) {
            JsonElement known = ours(entry) ? entry.getAsJsonObject().get("file") : null;
            if (!(known != null && known.isJsonArray() && known.getAsJsonArray().size() > 0 && name.equals(known.getAsJsonArray().get(0)))) {
                kept.add(entry);
            }
        }
        JsonObject entry = new JsonObject();
        entry.addProperty("scope", scope);
        entry.add("file", identity.get());
        entry.addProperty("blob_id", blobId);
        kept.add(entry);
        entries = new ArrayList<>(kept.subList(Math.max(0, kept.size() - MAX_ENTRIES), kept.size()));
        save();
    }

    /** Drops every entry of this scope naming one of these ids (the server no longer holds them). */
    void forget(Collection<String> blobIds) {
        Set<String> ids = Set.copyOf(blobIds);
        entries = new ArrayList<>(entries().stream().filter(entry -> !(ours(entry) && entry.getAsJsonObject().get("blob_id") != null
                && ids.contains(entry.getAsJsonObject().get("blob_id").getAsString()))).toList());
        save();
    }

    /** Whether a remembered identity is this one: the path as text, the numbers as exact 64-bit integers. */
    private static boolean same(JsonArray identity, JsonElement known) {
        if (known == null || !known.isJsonArray() || known.getAsJsonArray().size() != identity.size()) {
            return false;
        }
        JsonArray other = known.getAsJsonArray();
        for (int i = 0; i < identity.size(); i++) {
            if (!other.get(i).isJsonPrimitive()) {
                return false;
            }
            try {
                boolean equal = i == 0 ? identity.get(i).getAsString().equals(other.get(i).getAsString())
                        : identity.get(i).getAsLong() == other.get(i).getAsLong();
                if (!equal) {
                    return false;
                }
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return true;
    }

    private boolean ours(JsonElement entry) {
        return entry.isJsonObject() && new JsonPrimitive(scope).equals(entry.getAsJsonObject().get("scope"));
    }

    /** [absolute path, size, modification time in ns, inode], as Python's os.stat gives them; empty when it cannot be read. */
    private static Optional<JsonArray> identity(Path path) {
        try {
            BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
            Object inode = Files.getAttribute(path, "unix:ino");
            JsonArray identity = new JsonArray();
            identity.add(path.toAbsolutePath().normalize().toString());
            identity.add(attributes.size());
            identity.add(attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS));
            identity.add((Long) inode);
            return Optional.of(identity);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            // no such file, or a file system without inodes: such a file is always sent
            return Optional.empty();
        }
    }

    private List<JsonElement> entries() {
        if (entries == null) {
            entries = new ArrayList<>();
            try {
                JsonElement read = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
                if (read.isJsonArray()) {
                    read.getAsJsonArray().forEach(entries::add);
                }
            } catch (IOException | JsonParseException e) {
                // no cache yet, or one that cannot be read: every file is sent
            }
        }
        return entries;
    }

    private void save() {
        try {
            Files.createDirectories(file.getParent());
            JsonArray all = new JsonArray();
            entries.forEach(all::add);
            Path temporary = file.resolveSibling(file.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
            Files.writeString(temporary, all.toString(), StandardCharsets.UTF_8);
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // a cache that cannot be written only costs the next command its uploads
        }
    }
}
