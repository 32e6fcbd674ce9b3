package io.condense.server;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Clean-up of the temporary folders the server makes (step scratch folders, embedded data folders). */
public final class Folders {
    private static final Logger log = LoggerFactory.getLogger(Folders.class);

    private Folders() {
    }

    /**
     * Deletes a folder and everything in it. Best effort: a folder that cannot be deleted is left where
     * it is with a warning naming it, never an exception, since this runs in clean-up paths.
     */
    public static void deleteRecursively(Path folder) {
        if (!Files.exists(folder)) {
            return;
        }
        try {
            Files.walkFileTree(folder, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path directory, IOException exception) throws IOException {
                    Files.delete(directory);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            log.warn("Could not delete the temporary folder {}: {}", folder, e.toString());
        }
    }
}
