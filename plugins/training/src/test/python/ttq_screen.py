"""Screening of TTQ (ternarize(method=ttq, keep_first_last=false) | finetune) variants on Fashion-MNIST LeNet-5, in
PyTorch (Debian's python3-torch), outside Condense: the same dense model file, the same quantizer (latents = W / max |W|,
threshold t x max |latent| re-drawn every step, Wp and Wn from the means of their sides with gradients times 1/elements,
latent gradient times Wp, 1, Wn), Adam lr 0.001 with a cosine schedule to 0, batch 64, all 60,000 training images; test
accuracy on the 10,000 test images (its 3-epoch baseline 0.8941 against the bench's 0.8945). It only ranks ideas quickly.
Usage: /usr/bin/python3 ttq_screen.py model=plugins/training/target/lenet/lenet-5-10-epochs.onnx epochs=3 [lr=0.001] [wd=0.0005]
       [opt=adamw] [t=0.05] [sched=cosine|step|constant] [clip=1] [kd=1 T=4 alpha=0.9] [fashion=/usr/share/datasets/fashion-mnist]"""
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
EPOCHS=int(args.get('epochs',3)); LR=float(args.get('lr',1e-3)); WD=float(args.get('wd',0)); T=float(args.get('t',0.05))
SCALEWD=args.get('scalewd','0')=='1'; SCHED=args.get('sched','cosine'); LATCLIP=args.get('clip','0')=='1'
m = onnx.load(args.get('model', 'plugins/training/target/lenet/lenet-5-10-epochs.onnx'))
W = {i.name: torch.tensor(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
xtr, ytr = _fashion(args.get('fashion', '/usr/share/datasets/fashion-mnist'), 'train')
xte, yte = _fashion(args.get('fashion', '/usr/share/datasets/fashion-mnist'), 't10k')
L=['conv1','conv2','fc1','fc2','fc3']
P={}; LAT={}; SC={}
for k in L:
    w=W[k+'.weight']; mx=w.abs().max(); th=T*mx
    P[k+'.bias']=W[k+'.bias'].clone().requires_grad_()
    LAT[k]=(w/mx).clone().requires_grad_()
    wp=w[w>th].mean(); wn=(-w[w<-th]).mean()
    SC[k+'.wp']=wp.clone().reshape(()).requires_grad_(); SC[k+'.wn']=wn.clone().reshape(()).requires_grad_()
def tern(k):
    l=LAT[k]; n=l.numel(); th=(T*l.abs().max()).detach()
    pos=(l>th).float(); neg=(l<-th).float(); mid=1-pos-neg
    wp=SC[k+'.wp']; wn=SC[k+'.wn']
    wps=wp/n + (wp-wp/n).detach(); wns=wn/n+(wn-wn/n).detach()
    val=pos*wps-neg*wns
    gain=(pos*wp+neg*wn+mid).detach()
    st=l*gain
    return val+(st-st.detach())
def forward(x):
    h=F.max_pool2d(F.relu(F.conv2d(x,tern('conv1'),P['conv1.bias'],padding=2)),2)
    h=F.max_pool2d(F.relu(F.conv2d(h,tern('conv2'),P['conv2.bias'])),2).flatten(1)
    h=F.relu(F.linear(h,tern('fc1'),P['fc1.bias']))
    h=F.relu(F.linear(h,tern('fc2'),P['fc2.bias']))
    return F.linear(h,tern('fc3'),P['fc3.bias'])
KD=args.get('kd','0')=='1'; KT=float(args.get('T',4)); KA=float(args.get('alpha',0.9))
def teacher(x):
    with torch.no_grad():
        h=F.max_pool2d(F.relu(F.conv2d(x,W['conv1.weight'],W['conv1.bias'],padding=2)),2)
        h=F.max_pool2d(F.relu(F.conv2d(h,W['conv2.weight'],W['conv2.bias'])),2).flatten(1)
        h=F.relu(F.linear(h,W['fc1.weight'],W['fc1.bias'])); h=F.relu(F.linear(h,W['fc2.weight'],W['fc2.bias']))
        return F.linear(h,W['fc3.weight'],W['fc3.bias'])
def acc(x,y):
    with torch.no_grad():
        return sum((forward(x[i:i+1000]).argmax(1)==y[i:i+1000]).sum().item() for i in range(0,len(x),1000))/len(x)
print('before', acc(xte,yte), flush=True)
groups=[{'params':list(LAT.values()),'weight_decay':WD},{'params':list(P.values()),'weight_decay':0},{'params':list(SC.values()),'weight_decay':0}]
opt=(torch.optim.AdamW if args.get('opt','adam')=='adamw' else torch.optim.Adam)(groups, lr=LR)
steps=EPOCHS*((len(xtr)+63)//64); step=0
for ep in range(EPOCHS):
    g=torch.Generator().manual_seed(42+ep); perm=torch.randperm(len(xtr),generator=g); tl=0;t0=time.time(); corr=0
    for i in range(0,len(xtr),64):
        idx=perm[i:i+64]
        if SCHED=='cosine': f=0.5*(1+np.cos(np.pi*step/steps))
        elif SCHED=='step': f=0.1**int(3*step/steps)
        else: f=1
        for gr in opt.param_groups: gr['lr']=LR*f
        out=forward(xtr[idx]); loss=F.cross_entropy(out,ytr[idx])
        if KD:
            t=teacher(xtr[idx]); loss=KA*KT*KT*F.kl_div(F.log_softmax(out/KT,1),F.softmax(t/KT,1),reduction='batchmean')+(1-KA)*loss
        opt.zero_grad(); loss.backward(); opt.step(); step+=1; tl+=loss.item()*len(idx); corr+=(out.argmax(1)==ytr[idx]).sum().item()
        if LATCLIP:
            with torch.no_grad():
                for l in LAT.values(): l.clamp_(-1,1)
    print('epoch',ep+1,'loss %.4f train %.4f'%(tl/len(xtr),corr/len(xtr)),'test %.4f'%acc(xte,yte),'%.0fs'%(time.time()-t0), flush=True)
print('RESULT', sys.argv[1:], acc(xte,yte), {k:round(v.item(),4) for k,v in SC.items()})
