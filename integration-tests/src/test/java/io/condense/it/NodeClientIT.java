package io.condense.it;

/**
 * The Node.js client (integration-tests/clients/node: @grpc/grpc-js, proto/ loaded by @grpc/proto-loader)
 * uploads, submits and downloads against the embedded platform.
 */
class NodeClientIT extends ForeignClientTests {
    @Override
    ForeignClient client() {
        return ForeignClient.node();
    }
}
