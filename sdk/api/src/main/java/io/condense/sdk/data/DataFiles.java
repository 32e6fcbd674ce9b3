package io.condense.sdk.data;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** File reading shared by the data readers. */
final class DataFiles {
    private DataFiles() {
    }

    static byte[] readAll(Path file) {
        try {
            long size = Files.size(file);
            if (size > Integer.MAX_VALUE - 8) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "data file " + file + " is " + size
                        + " bytes; split it into files under 2 GiB");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "data file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "cannot read data file " + file + ": " + e.getMessage(), e);
        }
    }
}
