package io.condense.server.blob;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.sdk.model.ExternalFiles;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model stored as a bundle (its file and data file as blobs, a manifest tying them) and put back into a folder. */
class ModelBundlesTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    @TempDir
    Path folder;

    @Test
    void aModelStoredAsABundleComesBackAsFilesThatLoadToTheSameTensors() throws Exception {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        ModelBundles bundles = new ModelBundles(blobs);
        OnnxModel model = OnnxModel.load(MNIST);

        ModelBundles.Stored stored = bundles.store(model, true, folder.resolve("step-output"));
        BundleHeader manifest = bundles.manifest(stored.id()).orElseThrow();
        assertThat(manifest.getFilesList()).extracting(BundleFile::getName).containsExactly("model.onnx", "model.onnx.data");
        assertThat(stored.bytes()).isEqualTo(ModelBundles.totalBytes(manifest)).isEqualTo(bundles.modelBytes(stored.id()));
        for (BundleFile file : manifest.getFilesList()) {
            assertThat(blobs.size(BlobId.of(file.getSha256()))).isEqualTo(file.getSize());
        }

        Path file = bundles.materialize(stored.id(), folder.resolve("step-input"));
        assertThat(ExternalFiles.locations(ExternalFiles.readModelFile(file))).containsOnlyKeys("model.onnx.data");
        OnnxModel loaded = OnnxModel.load(file);
        for (InitializerInfo initializer : model.initializers()) {
            assertThat(loaded.tensor(initializer.name()).toFloatArray()).isEqualTo(model.tensor(initializer.name()).toFloatArray());
        }
        // hard links to the stored files: deleting the folder keeps the blobs
        io.condense.server.Folders.deleteRecursively(folder.resolve("step-input"));
        assertThat(blobs.contains(BlobId.of(manifest.getFiles(1).getSha256()))).isTrue();
    }

    @Test
    void aModelThatFitsOneMessageAndWasNotABundleStaysOnePlainBlob() throws Exception {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        ModelBundles bundles = new ModelBundles(blobs);
        ModelBundles.Stored stored = bundles.store(OnnxModel.load(MNIST), false, folder.resolve("out"));
        assertThat(bundles.manifest(stored.id())).isEmpty();
        assertThat(bundles.modelBytes(stored.id())).isEqualTo(stored.bytes()).isEqualTo(blobs.size(stored.id()));
        Path file = bundles.materialize(stored.id(), folder.resolve("in"));
        assertThat(Files.readAllBytes(file)).isEqualTo(blobs.read(stored.id()));
    }
}
