"""Client of the Condense model-compression service.

    import condense
    client = condense.Client("127.0.0.1:50051")
    job = client.compress("model.onnx", "prune(sparsity=0.5) | quantize(bits=8)", output="small.onnx")

    channel = client.channel("mnist-mlp")
    channel.create("base.onnx", "quantize(bits=8)", gate="accuracy>=0.85", eval_data="x.npy", eval_labels="y.npy")
    channel.push({"fc1.weight": w1, "fc1.bias": b1}, step=1000)     # numpy arrays, or anything with .numpy()
    for version in channel.watch(from_version=0):
        print(version.version, condense.state_name(version.state))
"""
from condense.bundle import BundleError, data_files
from condense.client import Client, CondenseError, job_state_name, state_name
from condense.pipeline import parse_pipeline

# imported on first use: the command line's one-shot jobs need neither channels nor safetensors
_LAZY = {"Channel": "condense.channel", "to_safetensors": "condense.weights"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError("module 'condense' has no attribute %r" % name)


__all__ = ["BundleError", "Client", "Channel", "CondenseError", "data_files", "job_state_name", "parse_pipeline", "state_name", "to_safetensors"]
