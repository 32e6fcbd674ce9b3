package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.condense.proto.v1.BundleChunk;
import io.condense.proto.v1.BundleData;
import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.sdk.model.ExternalFiles;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.api.Checksums;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A downloaded bundle written beside each other under the target's name, and refused whole when a chunk is damaged. */
class BundleReceiverTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    @TempDir
    Path folder;

    @Test
    void theModelAndItsDataFileAreWrittenUnderTheTargetsNameAndLoad() throws Exception {
        List<BundleChunk> chunks = bundle();
        Path target = folder.resolve("out").resolve("small.onnx");
        BundleReceiver.Written written = BundleReceiver.write(chunks.iterator(), target);
        assertThat(written.files()).containsExactly(target, target.resolveSibling("small.onnx.data"));
        assertThat(written.describe()).endsWith("with its external data in small.onnx.data)");
        assertThat(ExternalFiles.locations(ExternalFiles.readModelFile(target))).containsOnlyKeys("small.onnx.data");
        assertThat(OnnxModel.load(target).initializers()).hasSameSizeAs(OnnxModel.load(MNIST).initializers());
    }

    @Test
    void aDamagedChunkOrAFileCutShortLeavesNothingBehind() throws Exception {
        List<BundleChunk> damaged = bundle();
        BundleChunk last = damaged.get(damaged.size() - 1);
        damaged.set(damaged.size() - 1, last.toBuilder().setData(last.getData().toBuilder()
                .setData(last.getData().getData().substring(1))).build());
        Path target = folder.resolve("never.onnx");
        assertThatThrownBy(() -> BundleReceiver.write(damaged.iterator(), target)).isInstanceOf(IOException.class)
                .hasMessageContaining("CRC32C").hasMessageContaining("download again");
        List<BundleChunk> cut = bundle();
        cut.remove(cut.size() - 1);
        assertThatThrownBy(() -> BundleReceiver.write(cut.iterator(), target)).isInstanceOf(IOException.class)
                .hasMessageContaining("ended after").hasMessageContaining("cut short");
        try (var files = Files.list(folder)) {
            assertThat(files).isEmpty();
        }
    }

    /** mnist-8 saved with every tensor in model.onnx.data, as the server sends it: header, then chunks of 4 KiB. */
    private List<BundleChunk> bundle() throws Exception {
        Path source = folder.resolve("source").resolve("model.onnx");
        OnnxModel.load(MNIST).save(source, 0);
        byte[][] files = {Files.readAllBytes(source), Files.readAllBytes(source.resolveSibling("model.onnx.data"))};
        String[] names = {"model.onnx", "model.onnx.data"};
        BundleHeader.Builder header = BundleHeader.newBuilder();
        List<BundleChunk> chunks = new ArrayList<>();
        for (int i = 0; i < files.length; i++) {
            header.addFiles(BundleFile.newBuilder().setName(names[i]).setSize(files[i].length)
                    .setSha256(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(files[i]))));
            for (int offset = 0; offset < files[i].length; offset += 4096) {
                byte[] piece = Arrays.copyOfRange(files[i], offset, Math.min(files[i].length, offset + 4096));
                chunks.add(BundleChunk.newBuilder().setData(BundleData.newBuilder().setFile(i).setOffset(offset)
                        .setData(ByteString.copyFrom(piece)).setCrc32C(Checksums.crc32c(piece))).build());
            }
        }
        chunks.add(0, BundleChunk.newBuilder().setHeader(header).build());
        io.condense.server.Folders.deleteRecursively(folder.resolve("source"));
        return chunks;
    }
}
