# LeNet-300-100 trained on the first 55,000 Fashion-MNIST training images only (the search's validation split, the last
# 5,000, stays unseen), 10 epochs SGD momentum 0.9 cosine 0.05->0.001 batch 64, as server/training's train-lenet; ONNX out.
import sys, numpy as np, torch, torch.nn as nn
torch.manual_seed(1); torch.set_num_threads(1)
d = sys.argv[1]; out = sys.argv[2]
x = torch.from_numpy(np.load(d + '/train.npy')); y = torch.from_numpy(np.load(d + '/train_labels.npy'))
tx = torch.from_numpy(np.load(d + '/test.npy')); ty = torch.from_numpy(np.load(d + '/test_labels.npy'))
class Net(nn.Module):
    def __init__(s):
        super().__init__(); s.fc1 = nn.Linear(784, 300); s.fc2 = nn.Linear(300, 100); s.fc3 = nn.Linear(100, 10)
    def forward(s, image):
        return s.fc3(torch.relu(s.fc2(torch.relu(s.fc1(torch.flatten(image, 1))))))
net = Net(); epochs = 10
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
steps = epochs * ((len(x) + 63) // 64)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=0.001)
for e in range(epochs):
    perm = torch.randperm(len(x))
    for i in range(0, len(x), 64):
        b = perm[i:i + 64]; opt.zero_grad(); loss = nn.functional.cross_entropy(net(x[b]), y[b]); loss.backward(); opt.step(); sched.step()
    with torch.no_grad():
        print('epoch', e + 1, 'test accuracy', float((net(tx).argmax(1) == ty).float().mean()), flush=True)
torch.onnx.export(net, torch.zeros(1, 1, 28, 28), out, input_names=['image'], output_names=['logits'],
                  dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
