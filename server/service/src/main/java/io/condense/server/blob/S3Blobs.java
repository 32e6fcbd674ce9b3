package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CommonPrefix;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Blobs in an S3 bucket (AWS SDK v2), so API and worker processes on different machines share them: the blob at
 * {@code <prefix>/blobs/<id>}, a tenant's hold on it as an empty object {@code <prefix>/owners/<tenant>/<id>-<size>}
 * (the size in the key, so a tenant's stored bytes are one listing). Uploads stream from the local temporary file,
 * downloads stream from S3; readers that need a file (evaluation and training data) get a copy cached under the data
 * folder, emptied at every start and when the blob is collected.
 */
final class S3Blobs implements BlobBackend {
    private static final Pattern MARKER = Pattern.compile("([0-9a-f]{64})-(\\d+)");
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

    private final S3Location location;
    private final S3Client s3;
    private final Path cache;

    S3Blobs(S3Location location, Path cache) {
        this.location = requireNonNull(location, "location is null");
        this.cache = requireNonNull(cache, "cache is null");
        this.s3 = client(location);
        try {
            Files.createDirectories(cache);
            // copies cached by an earlier run may be of blobs collected since: start empty
            try (var files = Files.list(cache)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(file);
                }
            }
            s3.headBucket(request -> request.bucket(location.bucket()));
        } catch (IOException e) {
            s3.close();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create the blob cache folder " + cache + ": " + e.getMessage(), e);
        } catch (SdkException e) {
            s3.close();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot reach the S3 bucket of --blob-store " + location + ": " + e.getMessage()
                    + " (credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile; endpoint: --s3-endpoint or AWS_ENDPOINT_URL)", e);
        }
    }

    private static S3Client client(S3Location location) {
        S3ClientBuilder builder = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .credentialsProvider(DefaultCredentialsProvider.builder().build());
        location.endpoint().ifPresent(endpoint -> builder.endpointOverride(endpoint).forcePathStyle(true));
        builder.region(Region.of(location.region().orElseGet(() -> defaultRegion(location))));
        return builder.build();
    }

    /** The SDK's region (AWS_REGION, the profile); an S3-compatible server usually ignores it, so us-east-1 there. */
    private static String defaultRegion(S3Location location) {
        try {
            return new DefaultAwsRegionProviderChain().getRegion().id();
        } catch (SdkException e) {
            if (location.endpoint().isPresent()) {
                return "us-east-1";
            }
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "no AWS region for --blob-store " + location
                    + ": set AWS_REGION or --s3-region", e);
        }
    }

    @Override
    public boolean contains(BlobId id) {
        return head(id) != null;
    }

    @Override
    public long size(BlobId id) {
        HeadObjectResponse head = head(id);
        if (head == null) {
            throw BlobStore.notStored(id);
        }
        return head.contentLength();
    }

    private HeadObjectResponse head(BlobId id) {
        try {
            return s3.headObject(request -> request.bucket(location.bucket()).key(blobKey(id)));
        } catch (NoSuchKeyException e) {
            return null;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return null;
            }
            throw unavailable("read blob " + id, e);
        } catch (SdkException e) {
            throw unavailable("read blob " + id, e);
        }
    }

    @Override
    public InputStream open(BlobId id) {
        try {
            return s3.getObject(request -> request.bucket(location.bucket()).key(blobKey(id)));
        } catch (NoSuchKeyException e) {
            throw BlobStore.notStored(id);
        } catch (SdkException e) {
            throw unavailable("read blob " + id, e);
        }
    }

    @Override
    public Path file(BlobId id) {
        Path cached = cache.resolve(id.hex());
        if (Files.isRegularFile(cached)) {
            return cached;
        }
        Path partial = cache.resolve(id.hex() + "." + Thread.currentThread().getId() + ".part");
        try {
            Files.deleteIfExists(partial);
            s3.getObject(request -> request.bucket(location.bucket()).key(blobKey(id)), ResponseTransformer.toFile(partial));
            Files.move(partial, cached, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return cached;
        } catch (NoSuchKeyException e) {
            throw BlobStore.notStored(id);
        } catch (AtomicMoveNotSupportedException e) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the blob cache folder " + cache + " does not support atomic renames", e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot cache blob " + id + " in " + cache + ": " + e.getMessage(), e);
        } catch (SdkException e) {
            throw unavailable("read blob " + id, e);
        } finally {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException ignored) {
                // removed with the cache
            }
        }
    }

    /** Uploads even when the blob is stored (the same bytes): that refreshes its time, so its retention starts over. */
    @Override
    public void store(Path completeFile, BlobId id) {
        try {
            s3.putObject(request -> request.bucket(location.bucket()).key(blobKey(id)), RequestBody.fromFile(completeFile));
        } catch (SdkException e) {
            throw unavailable("store blob " + id, e);
        } finally {
            try {
                Files.deleteIfExists(completeFile);
            } catch (IOException ignored) {
                // a leftover temporary file is removed at the next start
            }
        }
    }

    @Override
    public void grant(String tenant, BlobId id, long size) {
        if (owns(tenant, id)) {
            return;
        }
        try {
            s3.putObject(request -> request.bucket(location.bucket()).key(ownersPrefix(tenant) + id.hex() + "-" + size), RequestBody.empty());
        } catch (SdkException e) {
            throw unavailable("record the owner of blob " + id, e);
        }
    }

    @Override
    public boolean owns(String tenant, BlobId id) {
        try {
            return s3.listObjectsV2(request -> request.bucket(location.bucket()).prefix(ownersPrefix(tenant) + id.hex() + "-").maxKeys(1))
                    .keyCount() > 0;
        } catch (SdkException e) {
            throw unavailable("read the owners of blob " + id, e);
        }
    }

    @Override
    public long storedBytes(String tenant) {
        long total = 0;
        for (S3Object marker : objects(ownersPrefix(tenant))) {
            Matcher matcher = MARKER.matcher(marker.key().substring(marker.key().lastIndexOf('/') + 1));
            if (matcher.matches()) {
                total += Long.parseLong(matcher.group(2));
            }
        }
        return total;
    }

    @Override
    public List<StoredBlob> list() {
        List<StoredBlob> blobs = new ArrayList<>();
        for (S3Object object : objects(location.key("blobs/"))) {
            String name = object.key().substring(object.key().lastIndexOf('/') + 1);
            if (HEX.matcher(name).matches()) {
                blobs.add(new StoredBlob(BlobId.of(name), object.size(), object.lastModified()));
            }
        }
        return blobs;
    }

    @Override
    public void delete(BlobId id) {
        try {
            for (CommonPrefix tenant : s3.listObjectsV2Paginator(request -> request.bucket(location.bucket()).prefix(location.key("owners/"))
                    .delimiter("/")).commonPrefixes()) {
                for (S3Object marker : objects(tenant.prefix() + id.hex() + "-")) {
                    s3.deleteObject(request -> request.bucket(location.bucket()).key(marker.key()));
                }
            }
            s3.deleteObject(request -> request.bucket(location.bucket()).key(blobKey(id)));
            Files.deleteIfExists(cache.resolve(id.hex()));
        } catch (SdkException e) {
            throw unavailable("remove blob " + id, e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot remove the cached copy of blob " + id + ": " + e.getMessage(), e);
        }
    }

    private Iterable<S3Object> objects(String prefix) {
        try {
            return s3.listObjectsV2Paginator(ListObjectsV2Request.builder().bucket(location.bucket()).prefix(prefix).build()).contents();
        } catch (SdkException e) {
            throw unavailable("list " + prefix, e);
        }
    }

    @Override
    public String location() {
        return location.toString();
    }

    @Override
    public void close() {
        s3.close();
    }

    private String blobKey(BlobId id) {
        return location.key("blobs/" + id.hex());
    }

    private String ownersPrefix(String tenant) {
        return location.key("owners/" + BlobStore.checkTenant(tenant) + "/");
    }

    private CondenseException unavailable(String what, SdkException e) {
        return new CondenseException(ErrorCode.UNAVAILABLE, "cannot " + what + " in " + location + ": " + e.getMessage(), e);
    }
}
