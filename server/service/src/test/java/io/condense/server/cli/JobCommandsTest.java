package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.JobError;
import org.junit.jupiter.api.Test;

/** Exit codes the command line documents: 2 for bad input, the model included; 1 for failures on the server's side. */
class JobCommandsTest {

    @Test
    void aJobThatFailedOnItsInputIsBadInput() {
        assertThat(CompressCommand.isBadInput(JobError.newBuilder().setCode("INVALID_MODEL").build())).isTrue();
        assertThat(CompressCommand.isBadInput(JobError.newBuilder().setCode("TRUNCATED_MODEL").build())).isTrue();
        assertThat(CompressCommand.isBadInput(JobError.newBuilder().setCode("INVALID_PARAMETER").build())).isTrue();
        assertThat(CompressCommand.isBadInput(JobError.newBuilder().setCode("RESOURCE_EXHAUSTED").build())).isFalse();
        assertThat(CompressCommand.isBadInput(JobError.newBuilder().setCode("PLUGIN_FAILURE").build())).isFalse();
        assertThat(CompressCommand.isBadInput(JobError.newBuilder().setCode("CANCELLED").build())).isFalse();
        assertThat(CompressCommand.isBadInput(JobError.newBuilder().setCode("SOMETHING_NEW").build())).isFalse();
    }
}
