"""LeNet-5 training speed in PyTorch itself, for the Condense training-speed benchmark (TrainingSpeed.java).

Same model as GraphBuilder.leNet5 (Conv 1-6 5x5 pad 2, ReLU, MaxPool 2, Conv 6-16 5x5, ReLU, MaxPool 2, Linear
400-120, ReLU, Linear 120-84, ReLU, Linear 84-10), same data (the first N Fashion-MNIST training images scaled to
[0, 1]), same batch size and per-batch work (forward, cross-entropy, backward, SGD with momentum, the loss and the
correct count read back). Prints one line: images_per_second=<float>.

usage: /usr/bin/python3 lenet5_speed.py <fashion-mnist dir> <threads> <samples> <batch size> <warm-up batches>
"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main():
    directory, threads, samples, batch_size, warm_up = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    images = read_idx(directory + "/train-images-idx3-ubyte.gz")[:samples]
    labels = read_idx(directory + "/train-labels-idx1-ubyte.gz")[:samples]
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y_all = torch.from_numpy(labels.astype(np.int64))
    model = LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def run(order):
        correct = 0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            x = x_all[index]
            y = y_all[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
            correct += int((logits.argmax(1) == y).sum())
        return correct

    generator = torch.Generator().manual_seed(2)
    run(torch.randperm(samples, generator=generator)[:warm_up * batch_size])
    order = torch.randperm(samples, generator=generator)
    started = time.perf_counter()
    run(order)
    seconds = time.perf_counter() - started
    print("images_per_second=%.1f" % (samples / seconds))


if __name__ == "__main__":
    main()
