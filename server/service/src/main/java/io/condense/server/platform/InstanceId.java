package io.condense.server.platform;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Locale;

/**
 * A name for this process in Kafka (transactional ids, static group members): the host or pod name plus a random
 * part, new for every process. Never read from a shared folder: replicas started on one volume would take the same
 * name and fence each other.
 */
final class InstanceId {
    private static final int MAX_HOST_LENGTH = 40;
    private static final SecureRandom RANDOM = new SecureRandom();

    private InstanceId() {
    }

    /** {@code <host>-<8 hex digits>}; the host from HOSTNAME (a pod's name in Kubernetes), else the local host name. */
    static String unique() {
        return sanitizedHost() + "-" + HexFormat.of().formatHex(randomBytes());
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[4];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    private static String sanitizedHost() {
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (UnknownHostException e) {
                host = "condense";
            }
        }
        String clean = host.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]", "-");
        if (clean.length() > MAX_HOST_LENGTH) {
            clean = clean.substring(0, MAX_HOST_LENGTH);
        }
        return clean.isEmpty() ? "condense" : clean;
    }

    /** An explicit id must be usable in Kafka client ids and group names. */
    static String checkExplicit(String id) {
        if (id.isBlank() || !id.matches("[A-Za-z0-9._-]{1,100}")) {
            throw new IllegalArgumentException("instance id '" + id + "' must be 1 to 100 letters, digits, '.', '_' or '-'");
        }
        return id;
    }
}
