package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.BundleChunk;
import io.condense.proto.v1.BundleData;
import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.sdk.model.ExternalFiles;
import io.condense.server.api.Checksums;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a downloaded bundle (DownloadBundle) beside each other: the model as the target file, its data files as
 * {@code <target>.data} (or {@code <target>.data2}, ... when there are several), with the model's data file names changed
 * to match. Every chunk's offset and CRC32C and every file's size and SHA-256 are checked; files are written under
 * temporary names and moved into place only when all of them are complete.
 */
public final class BundleReceiver {
    private BundleReceiver() {
    }

    /** The files written, the model first. */
    public record Written(List<Path> files, long bytes) {
        /** "OUT (N bytes)", or "OUT (N bytes, with its external data in OUT.data)". */
        public String describe() {
            return files.get(0) + " (" + bytes + " bytes" + (files.size() == 1 ? "" : ", with its external data in "
                    + files.subList(1, files.size()).stream().map(file -> file.getFileName().toString())
                            .collect(java.util.stream.Collectors.joining(", "))) + ")";
        }
    }

    static Written write(Iterator<BundleChunk> chunks, Path target) throws IOException {
        requireNonNull(target, "target is null");
        if (!chunks.hasNext()) {
            throw new IOException("the server sent no bundle header");
        }
        BundleChunk first = chunks.next();
        if (!first.hasHeader() || first.getHeader().getFilesCount() == 0) {
            throw new IOException("the server's bundle did not start with a header listing its files");
        }
        BundleHeader header = first.getHeader();
        Path folder = target.toAbsolutePath().getParent();
        Files.createDirectories(folder);
        int count = header.getFilesCount();
        List<Path> temporaries = new ArrayList<>();
        List<Receiving> files = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                Path temporary = Files.createTempFile(folder, "." + target.getFileName(), ".part");
                temporaries.add(temporary);
                files.add(new Receiving(header.getFiles(i), temporary));
            }
            long bytes = 0;
            while (chunks.hasNext()) {
                BundleChunk chunk = chunks.next();
                if (!chunk.hasData() || chunk.getData().getFile() < 0 || chunk.getData().getFile() >= count) {
                    throw new IOException("the server's bundle holds a message that is not a chunk of one of its " + count + " files");
                }
                files.get(chunk.getData().getFile()).accept(chunk.getData());
                bytes += chunk.getData().getData().size();
            }
            for (Receiving file : files) {
                file.finish();
            }
            return new Written(place(header, temporaries, target), bytes);
        } finally {
            for (Receiving file : files) {
                file.out.close();
            }
            for (Path temporary : temporaries) {
                Files.deleteIfExists(temporary);
            }
        }
    }

    /** Moves the data files into place, then writes the model with their new names. */
    private static List<Path> place(BundleHeader header, List<Path> temporaries, Path target) throws IOException {
        List<Path> written = new ArrayList<>();
        written.add(target);
        if (header.getFilesCount() == 1) {
            move(temporaries.get(0), target);
            return written;
        }
        Map<String, String> renames = new LinkedHashMap<>();
        for (int i = 1; i < header.getFilesCount(); i++) {
            String name = target.getFileName() + ".data" + (i == 1 ? "" : Integer.toString(i));
            renames.put(header.getFiles(i).getName(), name);
            Path data = target.resolveSibling(name);
            move(temporaries.get(i), data);
            written.add(data);
        }
        byte[] model = ExternalFiles.renamed(ExternalFiles.readModelFile(temporaries.get(0)), renames).toByteArray();
        Files.write(temporaries.get(0), model);
        move(temporaries.get(0), target);
        return written;
    }

    private static void move(Path temporary, Path target) throws IOException {
        // createTempFile makes the file owner-only; a written model is an ordinary file (rw-r--r--)
        if (Files.getFileStore(temporary).supportsFileAttributeView("posix")) {
            Files.setPosixFilePermissions(temporary, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        }
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** One file being received: its chunks in order, each checked, hashed as written. */
    private static final class Receiving {
        private final BundleFile file;
        private final OutputStream out;
        private final MessageDigest digest;
        private long received;

        Receiving(BundleFile file, Path temporary) throws IOException {
            this.file = file;
            this.out = Files.newOutputStream(temporary);
            try {
                this.digest = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("the JDK has no SHA-256", e);
            }
        }

        void accept(BundleData data) throws IOException {
            if (data.getOffset() != received) {
                throw new IOException("a chunk of '" + file.getName() + "' starts at byte " + data.getOffset() + " but " + received
                        + " bytes of it have arrived: the download lost or reordered a chunk; download again");
            }
            byte[] bytes = data.getData().toByteArray();
            int crc = Checksums.crc32c(bytes);
            if (crc != data.getCrc32C()) {
                throw new IOException("the chunk of '" + file.getName() + "' at byte " + data.getOffset() + " has CRC32C "
                        + Checksums.hex(crc) + " but the server sent " + Checksums.hex(data.getCrc32C())
                        + ": it was cut short or corrupted on the way; download again");
            }
            out.write(bytes);
            digest.update(bytes);
            received += bytes.length;
        }

        void finish() throws IOException {
            out.close();
            if (received != file.getSize()) {
                throw new IOException("'" + file.getName() + "' ended after " + received + " of its " + file.getSize()
                        + " bytes: the download was cut short; download again");
            }
            String sha256 = HexFormat.of().formatHex(digest.digest());
            if (!sha256.equals(file.getSha256())) {
                throw new IOException("'" + file.getName() + "' has SHA-256 " + sha256 + " but the server announced " + file.getSha256()
                        + ": it was corrupted on the way; download again");
            }
        }
    }
}
