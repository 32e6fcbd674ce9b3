package io.condense.it;

/**
 * The Python client (clients/python/condense_client.py: Debian's python3-grpcio, message classes generated from
 * proto/ by protoc at run time) uploads, submits and downloads against the embedded platform.
 */
class PythonClientIT extends ForeignClientTests {
    @Override
    ForeignClient client() {
        return ForeignClient.python();
    }
}
