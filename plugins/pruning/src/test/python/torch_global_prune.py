#!/usr/bin/env python3
"""PyTorch's own global magnitude pruning of pytorch_cnn_mnist, as the peer of Condense's prune step.

Rebuilds the model in torch from the ONNX initializers that PruneAccuracyBenchmark writes as .npy files,
checks that the dense torch model reproduces ONNX Runtime's outputs, then for each sparsity prunes the
same layers with torch.nn.utils.prune.global_unstructured (L1Unstructured) and measures accuracy on the
same digits. Usage: torch_global_prune.py FOLDER SPARSITY[,SPARSITY...]
Prints one line per sparsity: "torch_global <sparsity> <accuracy> <reached sparsity>".
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune


class PytorchCnnMnist(nn.Module):
    """The graph of pytorch_cnn_mnist.onnx: Conv, MaxPool, Relu (twice), Reshape, Gemm, Relu, Gemm, Relu, LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = x.reshape(x.shape[0], 320)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.log_softmax(x, dim=1)


def load(folder, name):
    return torch.from_numpy(np.load(os.path.join(folder, name + ".npy")))


def accuracy(model, images, labels):
    with torch.no_grad():
        return (model(images).argmax(dim=1) == labels).double().mean().item()


def main():
    folder, sparsities = sys.argv[1], [float(s) for s in sys.argv[2].split(",")]
    torch.set_num_threads(1)
    images = load(folder, "digits")
    labels = load(folder, "labels")
    reference = load(folder, "reference_outputs")
    pruned_names = open(os.path.join(folder, "pruned_weights.txt")).read().split()
    for sparsity in sparsities:
        model = PytorchCnnMnist()
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                parameter.copy_(load(folder, name))
        model.eval()
        with torch.no_grad():
            difference = (model(images[: reference.shape[0]]) - reference).abs().max().item()
        if difference > 1e-2:
            raise SystemExit(f"the torch rebuild differs from ONNX Runtime by {difference}: not the same model")
        modules = dict(model.named_modules())
        parameters = [(modules[name.rsplit(".", 1)[0]], "weight") for name in pruned_names]
        prune.global_unstructured(parameters, pruning_method=prune.L1Unstructured, amount=sparsity)
        zeros = sum(int((module.weight == 0).sum()) for module, _ in parameters)
        total = sum(module.weight.numel() for module, _ in parameters)
        print(f"torch_global {sparsity} {accuracy(model, images, labels):.6f} {zeros / total:.6f} max_diff_dense {difference:.2e}")


if __name__ == "__main__":
    main()
