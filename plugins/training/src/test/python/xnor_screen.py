"""Screening of W1-A1 (binarize(activations=1) | finetune) variants on Fashion-MNIST LeNet-5, in PyTorch (Debian's
python3-torch), outside Condense: the same dense model file, the same binary weights (sign x per-channel mean |W|, scale
trained, clipped straight-through), Adam lr 0.001 with a cosine schedule to 0, batch 64, all 60,000 training images;
test accuracy on the 10,000 test images. The variants that helped were then built into binarize/finetune and measured
with the FashionChains bench (plugins/training/README.md, "W1-A1"); this script only ranks ideas quickly.
Usage: /usr/bin/python3 xnor_screen.py model=plugins/training/target/lenet/lenet-5-10-epochs.onnx epochs=1 mode=thr binit=mean
       [lat=float] [grad=approx] [win=std|W] [K=1] [acts=conv2,fc1,fc2] [fashion=/usr/share/datasets/fashion-mnist]
mode=thr: Sign(x - b), b per channel from the first 2,000 training images (binit: mean, median, qP, halfpos, posmed, zero),
trained; without it plain Sign(x). lat=float: binary latents start from the float weights (else +-alpha)."""
import sys, time, numpy as np, torch, torch.nn.functional as F, onnx
from onnx import numpy_helper
import gzip
def _fashion(folder, split):
    with gzip.open(f"{folder}/{split}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(f"{folder}/{split}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return torch.tensor(x), torch.tensor(y)
torch.set_num_threads(1); torch.manual_seed(0)
args = dict(a.split('=') for a in sys.argv[1:])
EPOCHS=int(args.get('epochs',3)); LR=float(args.get('lr',1e-3)); MODE=args.get('mode','plain'); NTRAIN=int(args.get('n',60000))
GRAD=args.get('grad','ste'); WIN=args.get('win','1'); BINIT=args.get('binit','zero'); WD=float(args.get('wd',0))
m = onnx.load(args.get('model', 'plugins/training/target/lenet/lenet-5-10-epochs.onnx'))
W = {i.name: torch.tensor(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
xtr, ytr = _fashion(args.get('fashion', '/usr/share/datasets/fashion-mnist'), 'train')
xtr, ytr = xtr[:NTRAIN], ytr[:NTRAIN]
xte, yte = _fashion(args.get('fashion', '/usr/share/datasets/fashion-mnist'), 't10k')
class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x); ctx.w=w; return torch.sign(x)
    @staticmethod
    def backward(ctx, g):
        x,=ctx.saved_tensors; w=ctx.w
        if GRAD=='approx':  # Bi-Real ApproxSign, scaled to window w
            t=(x/w).abs(); return g*(2-2*t).clamp(min=0)/w, None
        return g*((x.abs()<=w).float()), None
def sgn(x, w=1.0): return SignSTE.apply(x, w)
P = {}
for k in ['conv1','conv2','fc1','fc2','fc3']:
    P[k+'.bias']=W[k+'.bias'].clone().requires_grad_()
for k in ['conv1','fc3']: P[k+'.weight']=W[k+'.weight'].clone().requires_grad_()
for k in ['conv2','fc1','fc2']:
    w=W[k+'.weight']; a=w.abs().reshape(w.shape[0],-1).mean(1)
    P[k+'.alpha']=a.clone().requires_grad_()
    P[k+'.latent']=(w.clone() if args.get('lat')=='float' else torch.sign(w)*a.reshape(-1,*[1]*(w.dim()-1))).clone().requires_grad_()
def bw(k):
    l=P[k+'.latent']; s=torch.where(l>=0, torch.ones_like(l), -torch.ones_like(l))
    s = s + (l - l.detach())*(l.abs()<=1).float()  # ste
    return s*P[k+'.alpha'].reshape(-1,*[1]*(l.dim()-1))
def feats(x, upto):
    h=F.max_pool2d(F.relu(F.conv2d(x,P['conv1.weight'],P['conv1.bias'],padding=2)),2)
    acts={'conv2':h}
    if upto=='conv2': return acts
    h=binact('conv2',h); h=F.max_pool2d(F.relu(kmul('conv2',F.conv2d(h,bw('conv2')))+P['conv2.bias'].reshape(1,-1,1,1)),2).flatten(1)
    acts['fc1']=h
    if upto=='fc1': return acts
    h=binact('fc1',h); h=F.relu(kmul('fc1',F.linear(h,bw('fc1')))+P['fc1.bias']); acts['fc2']=h; return acts
B={}; S={}; KS={}
def kmul(k,y):
    return y*KS[k] if k in KS else y
ACTS=args.get('acts','conv2,fc1,fc2').split(',')
def binact(k,h):
    if k not in ACTS: return h
    if k in B:
        b=B[k]; shp=(1,-1,1,1) if h.dim()==4 else (1,-1)
        z=h-b.reshape(shp)
        w=S[k].reshape(shp) if k in S else float(WIN)
        out=sgn(z, w)
        if args.get('K')=='1':
            if h.dim()==4: Kc=F.avg_pool2d(z.abs().mean(1,keepdim=True),5,stride=1)
            else: Kc=z.abs().mean(1,keepdim=True)
            KS[k]=Kc
        return out
    return sgn(h, float(WIN))
def forward(x):
    h=F.max_pool2d(F.relu(F.conv2d(x,P['conv1.weight'],P['conv1.bias'],padding=2)),2)
    h=binact('conv2',h); h=F.max_pool2d(F.relu(kmul('conv2',F.conv2d(h,bw('conv2')))+P['conv2.bias'].reshape(1,-1,1,1)),2).flatten(1)
    h=binact('fc1',h); h=F.relu(kmul('fc1',F.linear(h,bw('fc1')))+P['fc1.bias'])
    h=binact('fc2',h); h=F.relu(kmul('fc2',F.linear(h,bw('fc2')))+P['fc2.bias'])
    return F.linear(h,P['fc3.weight'],P['fc3.bias'])
# init thresholds from data
if MODE=='thr':
    with torch.no_grad():
        calib=xtr[:2000]
        for k in ['conv2','fc1','fc2']:
            h=feats(calib,k)[k]
            per=(h.transpose(0,1).reshape(h.shape[1],-1))
            if BINIT=='mean': b=per.mean(1)
            elif BINIT=='median': b=per.median(1).values
            elif BINIT.startswith('q'): b=torch.quantile(per,float(BINIT[1:]),dim=1)
            elif BINIT=='halfpos': b=torch.stack([p[p>0].median()*0.5 if (p>0).any() else torch.tensor(0.) for p in per])
            elif BINIT=='posmed': b=torch.stack([p[p>0].median() if (p>0).any() else torch.tensor(0.) for p in per])
            else: b=torch.zeros(per.shape[0])
            b=b.clamp(min=float(args.get('bmin',0)))
            B[k]=b.clone().requires_grad_(); P[k+'.thr']=B[k]
            if WIN=='std':
                S[k]=(per.std(1)).clamp(min=1e-3)
            print(k,'b',np.round(b[:8].numpy(),3),'frac+ %.2f'%((per>b[:,None]).float().mean()), flush=True)
def acc(x,y):
    with torch.no_grad():
        return sum((forward(x[i:i+1000]).argmax(1)==y[i:i+1000]).sum().item() for i in range(0,len(x),1000))/len(x)
print('before', acc(xte,yte), flush=True)
opt=torch.optim.Adam(P.values(), lr=LR, weight_decay=WD)
steps=EPOCHS*((len(xtr)+63)//64); step=0
for ep in range(EPOCHS):
    g=torch.Generator().manual_seed(42+ep); perm=torch.randperm(len(xtr),generator=g); tl=0;t0=time.time()
    for i in range(0,len(xtr),64):
        idx=perm[i:i+64]
        for gr in opt.param_groups: gr['lr']=LR*0.5*(1+np.cos(np.pi*step/steps))
        loss=F.cross_entropy(forward(xtr[idx]),ytr[idx]); opt.zero_grad(); loss.backward(); opt.step(); step+=1; tl+=loss.item()*len(idx)
    print('epoch',ep+1,'loss %.4f'%(tl/len(xtr)),'test %.4f'%acc(xte,yte),'%.0fs'%(time.time()-t0), flush=True)
print('RESULT', sys.argv[1:], acc(xte,yte))
