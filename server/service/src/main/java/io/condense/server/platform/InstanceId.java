package io.condense.server.platform;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * A stable name for this server's Kafka transactional ids, kept in the data folder: a restart on the same
 * folder reuses it, which fences and aborts any transaction the previous process left open.
 */
final class InstanceId {
    private InstanceId() {
    }

    static String readOrCreate(Path dataFolder) {
        Path file = dataFolder.resolve("instance-id");
        try {
            if (Files.exists(file)) {
                return Files.readString(file, StandardCharsets.UTF_8).trim();
            }
            String id = UUID.randomUUID().toString().substring(0, 8);
            Files.writeString(file, id + "\n", StandardCharsets.UTF_8);
            return id;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or write " + file, e);
        }
    }
}
