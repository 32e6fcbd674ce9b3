package io.condense.server.platform;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.Folders;
import io.condense.server.bus.KafkaSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's scratch folders: {@code DATA/scratch/<instance id>/}, one per process, so that processes sharing a data
 * folder never touch each other's files. A step deletes its own scratch folder when it ends; what a process killed in
 * the middle of a step left behind is removed by the next worker that starts on the same data folder, once Kafka says
 * no live process holds that instance id (the lease of {@link InstanceLease}). Without that sweep, every crash left
 * its calibration, evaluation and training copies on disk for good.
 */
final class ScratchSpace {
    private static final Logger log = LoggerFactory.getLogger(ScratchSpace.class);

    private ScratchSpace() {
    }

    /**
     * Creates (or empties) this instance's scratch folder under {@code root} and removes every other entry of {@code root}
     * that no live process holds: folders of dead instances and anything of the older flat layout. Returns the folder.
     */
    static Path prepare(Path root, String instanceId, KafkaSettings settings) {
        Path own = root.resolve(instanceId);
        try {
            Files.createDirectories(root);
            List<Path> others = new ArrayList<>();
            try (Stream<Path> entries = Files.list(root)) {
                entries.filter(entry -> !entry.equals(own)).forEach(others::add);
            }
            // the folder of this very id is left over from an earlier run of it (the lease says no one else holds it)
            Folders.deleteRecursively(own);
            if (!others.isEmpty()) {
                Set<String> live = InstanceLease.live(settings, others.stream().map(entry -> entry.getFileName().toString()).toList());
                for (Path entry : others) {
                    if (!live.contains(entry.getFileName().toString())) {
                        log.info("Removing scratch files no live process holds: {}", entry);
                        Folders.deleteRecursively(entry);
                    }
                }
            }
            return Files.createDirectories(own);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot prepare the scratch folder " + own + ": " + e.getMessage(), e);
        }
    }
}
