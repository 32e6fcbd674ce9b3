"""Generates the API's message classes from the repository's proto files while the package is built.

The proto files live in ../../proto/src/main/proto (pip builds a local folder in place, so they are found); the
generated modules go into src/condense/v1 and into the built package, never into git.
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto", "src", "main", "proto")
PROTOS = ["condense/v1/compression_service.proto", "condense/v1/channel_service.proto"]


def generate():
    from grpc_tools import protoc
    import grpc_tools

    if not os.path.isfile(os.path.join(PROTO_ROOT, PROTOS[0])):
        raise SystemExit("cannot build the condense package: the proto files are not at " + PROTO_ROOT
                         + "; install it from the Condense repository (pip install ./clients/python)")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    out = os.path.join(HERE, "src")
    status = protoc.main(["protoc", "-I" + PROTO_ROOT, "-I" + well_known, "--python_out=" + out, "--pyi_out=" + out] + PROTOS)
    if status != 0:
        raise SystemExit("generating the message classes failed (protoc exit %d)" % status)


class BuildWithMessages(build_py):
    def run(self):
        generate()
        super().run()


setup(cmdclass={"build_py": BuildWithMessages})
