package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Blobs in a folder: {@code <root>/<first two hex digits>/<id>}, owners as empty marker files
 * {@code <root>/owners/<tenant>/<id>}. A blob is renamed into place only once complete, so a reader never sees a partial
 * one.
 */
final class LocalBlobs implements BlobBackend {
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

    private final Path root;

    LocalBlobs(Path root) {
        this.root = requireNonNull(root, "root is null");
    }

    @Override
    public boolean contains(BlobId id) {
        return Files.isRegularFile(path(id));
    }

    @Override
    public long size(BlobId id) {
        try {
            return Files.size(file(id));
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read blob " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public InputStream open(BlobId id) {
        try {
            return Files.newInputStream(file(id));
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read blob " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Path file(BlobId id) {
        Path file = path(id);
        if (!Files.isRegularFile(file)) {
            throw BlobStore.notStored(id);
        }
        return file;
    }

    @Override
    public void store(Path completeFile, BlobId id) {
        Path target = path(id);
        try {
            if (Files.exists(target)) {
                Files.deleteIfExists(completeFile);
                // stored again: its retention starts over
                Files.setLastModifiedTime(target, FileTime.fromMillis(System.currentTimeMillis()));
                return;
            }
            Files.createDirectories(target.getParent());
            try {
                Files.move(completeFile, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException e) {
                Files.deleteIfExists(completeFile);
            } catch (AtomicMoveNotSupportedException e) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the blob store folder " + root
                        + " does not support atomic renames; use a local or POSIX shared filesystem", e);
            }
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot store blob " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void grant(String tenant, BlobId id, long size) {
        Path marker = ownerMarker(tenant, id);
        try {
            Files.createDirectories(marker.getParent());
            if (!Files.exists(marker)) {
                Files.createFile(marker);
            }
        } catch (FileAlreadyExistsException e) {
            // another call recorded it first
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot record the owner of blob " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean owns(String tenant, BlobId id) {
        return Files.exists(ownerMarker(tenant, id));
    }

    /** Reads the folder each time, so every process on the folder sees the others' uploads. */
    @Override
    public long storedBytes(String tenant) {
        Path folder = ownersFolder(tenant);
        if (!Files.isDirectory(folder)) {
            return 0;
        }
        try (var markers = Files.list(folder)) {
            return markers.mapToLong(marker -> {
                try {
                    return Files.size(path(BlobId.of(marker.getFileName().toString())));
                } catch (IOException | CondenseException e) {
                    return 0; // a marker of a blob no longer stored, or not a marker
                }
            }).sum();
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read the blobs tenant " + tenant + " holds: " + e.getMessage(), e);
        }
    }

    @Override
    public List<StoredBlob> list() {
        List<StoredBlob> blobs = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root, 2)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                String name = file.getFileName().toString();
                if (HEX.matcher(name).matches() && file.getParent().getParent().equals(root) && Files.isRegularFile(file)) {
                    try {
                        blobs.add(new StoredBlob(BlobId.of(name), Files.size(file), Files.getLastModifiedTime(file).toInstant()));
                    } catch (NoSuchFileException e) {
                        // removed meanwhile
                    }
                }
            }
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot list the blob store folder " + root + ": " + e.getMessage(), e);
        }
        return blobs;
    }

    @Override
    public void delete(BlobId id) {
        try {
            Path owners = root.resolve("owners");
            if (Files.isDirectory(owners)) {
                try (Stream<Path> tenants = Files.list(owners)) {
                    for (Path tenant : (Iterable<Path>) tenants::iterator) {
                        Files.deleteIfExists(tenant.resolve(id.hex()));
                    }
                }
            }
            Files.deleteIfExists(path(id));
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot remove blob " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String location() {
        return root.toString();
    }

    private Path ownerMarker(String tenant, BlobId id) {
        return ownersFolder(tenant).resolve(id.hex());
    }

    private Path ownersFolder(String tenant) {
        return root.resolve("owners").resolve(BlobStore.checkTenant(tenant));
    }

    private Path path(BlobId id) {
        return root.resolve(id.hex().substring(0, 2)).resolve(id.hex());
    }
}
