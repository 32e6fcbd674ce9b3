package io.condense.it;

import io.condense.proto.v1.ChannelPolicy;
import io.condense.proto.v1.CreateChannelRequest;
import io.condense.proto.v1.PushHeader;
import io.condense.proto.v1.PushResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.LeNets;
import io.condense.sdk.weights.Safetensors;
import io.condense.server.cli.CondenseClient;
import io.condense.server.cli.PipelineParser;
import io.condense.server.cli.channel.ChannelClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/** Helpers of the channel tests: LeNet-300-100 channels and pushes of its weights. */
final class Channels {
    private Channels() {
    }

    /** Creates a channel over LeNet-300-100 (seed 1) with the pipeline and gate; evaluation on the shared MNIST digits when asked. */
    static void create(CondenseClient client, String name, String pipeline, String gate, ChannelPolicy policy, boolean withDigits) {
        CreateChannelRequest.Builder request = CreateChannelRequest.newBuilder()
                .setName(name)
                .setModelId(client.upload(LeNets.leNet300100(1).toBytes()).getBlobId())
                .addAllSteps(PipelineParser.parse(pipeline))
                .setGate(gate)
                .setPolicy(policy);
        if (withDigits) {
            try {
                request.setEvaluationDataId(client.upload(TestEnvironment.digitImages()).getBlobId())
                        .setEvaluationLabelsId(client.upload(TestEnvironment.digitLabels()).getBlobId());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        new ChannelClient(client.channel()).create(request.build());
    }

    /** Every initializer of LeNet-300-100 initialised with this seed. */
    static Map<String, Tensor> weights(long seed) {
        OnnxModel model = LeNets.leNet300100(seed);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.initializers().forEach(info -> tensors.put(info.name(), model.tensor(info.name())));
        return tensors;
    }

    static PushResult push(CondenseClient client, String name, long step, byte[] weights) {
        try {
            return new ChannelClient(client.channel()).push(PushHeader.newBuilder().setChannel(name).setStep(step).build(),
                    new ByteArrayInputStream(weights));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static PushResult pushSafetensors(CondenseClient client, String name, long step, Map<String, Tensor> tensors) {
        return push(client, name, step, Safetensors.toBytes(tensors));
    }
}
