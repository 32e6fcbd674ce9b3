# LeNet-300-100 (or, with a third argument `lenet-5`, LeNet-5 as server/training's GraphBuilder.leNet5 builds it: conv 5x5
# 1->6 pad 2, max pool, conv 5x5 6->16, max pool, 400-120-84-10) trained on the first 55,000 Fashion-MNIST training images
# only (the search's validation split, the last 5,000, stays unseen), SGD momentum 0.9 cosine 0.05->0.001 batch 64, as
# server/training's train-lenet, 10 epochs (EPOCHS=N to change); ONNX out.
#   python3 train_lenet_55k.py DATA_DIR OUT.onnx [lenet-300-100 | lenet-5]
import os, sys, numpy as np, torch, torch.nn as nn
torch.manual_seed(1); torch.set_num_threads(1)
d = sys.argv[1]; out = sys.argv[2]; arch = sys.argv[3] if len(sys.argv) > 3 else 'lenet-300-100'
if arch not in ('lenet-300-100', 'lenet-5'):
    sys.exit('unknown network ' + repr(arch) + ': give lenet-300-100 or lenet-5')
x = torch.from_numpy(np.load(d + '/train.npy')); y = torch.from_numpy(np.load(d + '/train_labels.npy'))
tx = torch.from_numpy(np.load(d + '/test.npy')); ty = torch.from_numpy(np.load(d + '/test_labels.npy'))
class Net(nn.Module):
    def __init__(s):
        super().__init__(); s.fc1 = nn.Linear(784, 300); s.fc2 = nn.Linear(300, 100); s.fc3 = nn.Linear(100, 10)
    def forward(s, image):
        return s.fc3(torch.relu(s.fc2(torch.relu(s.fc1(torch.flatten(image, 1))))))
class LeNet5(nn.Module):
    def __init__(s):
        super().__init__(); s.conv1 = nn.Conv2d(1, 6, 5, padding=2); s.conv2 = nn.Conv2d(6, 16, 5)
        s.fc1 = nn.Linear(400, 120); s.fc2 = nn.Linear(120, 84); s.fc3 = nn.Linear(84, 10)
    def forward(s, image):
        x = torch.max_pool2d(torch.relu(s.conv1(image)), 2)
        x = torch.flatten(torch.max_pool2d(torch.relu(s.conv2(x)), 2), 1)
        return s.fc3(torch.relu(s.fc2(torch.relu(s.fc1(x)))))
net = Net() if arch == 'lenet-300-100' else LeNet5(); epochs = int(os.environ.get('EPOCHS', '10'))
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
