package io.condense.server.security;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What one tenant may hold at a time, from the tokens file ({@code jobs=N stored=SIZE blob=SIZE} after the tenant
 * name): {@code maxJobs} jobs queued or running, {@code maxStoredBytes} bytes of blobs it holds (uploads and what its
 * jobs wrote), and {@code maxBlobBytes} bytes in one upload (below the server's own {@code --max-blob-size}).
 * {@link #UNLIMITED} where the file says nothing.
 */
public record TenantLimits(long maxJobs, long maxStoredBytes, long maxBlobBytes) {
    public static final TenantLimits UNLIMITED = new TenantLimits(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);
    private static final Pattern SIZE = Pattern.compile("([0-9]+)(|B|KiB|MiB|GiB|TiB)");

    public TenantLimits {
        if (maxJobs < 1 || maxStoredBytes < 1 || maxBlobBytes < 1) {
            throw new IllegalArgumentException("limits must be at least 1: jobs=" + maxJobs + " stored=" + maxStoredBytes + " blob="
                    + maxBlobBytes);
        }
    }

    /** Only the jobs and stored-bytes limits; any upload size. */
    public TenantLimits(long maxJobs, long maxStoredBytes) {
        this(maxJobs, maxStoredBytes, Long.MAX_VALUE);
    }

    /**
     * The limits of {@code key=value} fields ({@code jobs=20}, {@code stored=50GiB}, {@code blob=2GiB}); a problem is thrown as
     * INVALID_PARAMETER with a message naming the field.
     */
    static TenantLimits parse(String[] fields) {
        long jobs = Long.MAX_VALUE;
        long stored = Long.MAX_VALUE;
        long blob = Long.MAX_VALUE;
        for (String field : fields) {
            int equals = field.indexOf('=');
            String key = equals < 0 ? field : field.substring(0, equals);
            String value = equals < 0 ? "" : field.substring(equals + 1);
            switch (key) {
                case "jobs" -> jobs = positive(field, value.matches("[0-9]{1,9}") ? Long.parseLong(value) : -1);
                case "stored" -> stored = positive(field, bytes(value));
                case "blob" -> blob = positive(field, bytes(value));
                default -> throw new CondenseException(ErrorCode.INVALID_PARAMETER, "unknown limit '" + field
                        + "': expected jobs=N (jobs queued or running), stored=SIZE (bytes held, e.g. 50GiB) or blob=SIZE "
                        + "(bytes in one upload, e.g. 2GiB)");
            }
        }
        return new TenantLimits(jobs, stored, blob);
    }

    private static long positive(String field, long value) {
        if (value < 1) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "'" + field + "' is not a limit: give a whole number of at least 1"
                    + (field.startsWith("stored") || field.startsWith("blob") ? ", in bytes or with KiB, MiB, GiB or TiB" : ""));
        }
        return value;
    }

    private static long bytes(String value) {
        Matcher matcher = SIZE.matcher(value);
        if (!matcher.matches() || matcher.group(1).length() > 15) {
            return -1;
        }
        int shift = switch (matcher.group(2).toLowerCase(Locale.ROOT)) {
            case "kib" -> 10;
            case "mib" -> 20;
            case "gib" -> 30;
            case "tib" -> 40;
            default -> 0;
        };
        long number = Long.parseLong(matcher.group(1));
        return number > Long.MAX_VALUE >> shift ? -1 : number << shift;
    }
}
