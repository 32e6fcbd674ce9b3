package io.condense.sdk.data;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * NumPy {@code .npz} archives: a zip (stored or deflated) of {@code <name>.npy} entries, read with the
 * JDK's zip support; each entry is parsed by {@link Npy}.
 */
public final class Npz {
    private Npz() {
    }

    /** Every array in the archive, by name (the entry name without {@code .npy}), in archive order. */
    public static Map<String, NdArray> read(Path file) {
        requireNonNull(file, "file is null");
        if (!Files.isRegularFile(file)) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "data file " + file + " does not exist");
        }
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                if (!entry.isDirectory()) {
                    try (InputStream in = zip.getInputStream(entry)) {
                        add(arrays, entry, in, file.toString());
                    }
                }
            }
        } catch (ZipException e) {
            throw notZip(file.toString(), e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + file + ": " + e.getMessage(), e);
        }
        return nonEmpty(arrays, file.toString());
    }

    /** The arrays of an archive held in memory (a pushed update); {@code source} names it in errors. */
    public static Map<String, NdArray> read(byte[] bytes, String source) {
        requireNonNull(bytes, "bytes is null");
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(bytes))) {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null) {
                if (!entry.isDirectory()) {
                    add(arrays, entry, zip, source);
                }
            }
        } catch (ZipException e) {
            throw notZip(source, e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + source + ": " + e.getMessage(), e);
        }
        return nonEmpty(arrays, source);
    }

    private static void add(Map<String, NdArray> arrays, ZipEntry entry, InputStream in, String source) throws IOException {
        String name = entry.getName();
        if (!name.endsWith(".npy")) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + source + " as .npz: entry '" + name
                    + "' is not an .npy array; an .npz holds only <name>.npy entries");
        }
        if (entry.getSize() > Integer.MAX_VALUE - 8) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "entry '" + name + "' of " + source + " is larger than 2 GiB");
        }
        arrays.put(name.substring(0, name.length() - 4), Npy.parse(in.readAllBytes(), source + " entry '" + name + "'"));
    }

    private static CondenseException notZip(String source, ZipException e) {
        return new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + source + " as .npz: it is not a valid zip archive ("
                + e.getMessage() + ")", e);
    }

    private static Map<String, NdArray> nonEmpty(Map<String, NdArray> arrays, String source) {
        if (arrays.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + source + " as .npz: it holds no arrays");
        }
        return Collections.unmodifiableMap(arrays);
    }

    /** Writes arrays as an .npz archive (deflated entries), in map order. */
    public static void write(Path file, Map<String, NdArray> arrays) {
        requireNonNull(file, "file is null");
        requireNonNull(arrays, "arrays is null");
        try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
            for (Map.Entry<String, NdArray> entry : arrays.entrySet()) {
                zip.putNextEntry(new ZipEntry(entry.getKey() + ".npy"));
                zip.write(Npy.toBytes(entry.getValue()));
                zip.closeEntry();
            }
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
