"""Screening of TTQ (ternarize(method=ttq, keep_first_last=false) | finetune) variants on Fashion-MNIST LeNet-5, in
PyTorch (Debian's python3-torch), outside Condense: the same dense model file, the same quantizer (latents = W / max |W|,
threshold t x max |latent| re-drawn every step, Wp and Wn from the means of their sides with gradients times 1/elements,
latent gradient times Wp, 1, Wn), Adam lr 0.001 with a cosine schedule to 0, batch 64, all 60,000 training images; test
accuracy on the 10,000 test images (its 3-epoch baseline 0.8941 against the bench's 0.8945). It only ranks ideas quickly.
Usage: /usr/bin/python3 ttq_screen.py model=plugins/training/target/lenet/lenet-5-10-epochs.onnx epochs=3 [lr=0.001] [wd=0.0005]
       [opt=adamw] [t=0.05] [sched=cosine|step|constant] [clip=1] [kd=1 T=4 alpha=0.9] [fashion=/usr/share/datasets/fashion-mnist]
       [ls=0.1 (label smoothing)] [shift=2 (random shifts of up to 2 pixels)] [slr=10 (scales' rate x10)] [warm=0.1 (linear
       warm-up over that share of the steps)] [ramp=1 (threshold from 0 to t over that many epochs)] [bs=64] [seed=42]
       [float=conv1,fc3 (these layers float: which ones cost most)]
       [chan=conv1 (per-channel Wp, Wn in these layers)] [tl=conv1:0.1 (another t for these layers)]
       [ste=plain (the latent's gradient is the weight's, as BinaryConnect and TWN pass it, not times Wp, 1, Wn)]
       [val=6000 (hold out the last 6,000 training images: train on the rest, print their accuracy; choose by it)]
       [zs=0.5 | zs=init (threshold from a share of zeros per layer, re-drawn every step as that quantile of |latent|;
       init: the share t x max |W| gives at the start)]
       [inc=0.5,0.75,0.875,1 (incremental ternarization, INQ's schedule: that share of each layer's weights, largest |latent|
       first, fixed at +Wp / -Wn, the rest float (latent x max |W|) and retrained; epochs spread over the phases)
       incfinal=ttq|fixed|none (after 100%: a last phase of plain TTQ, masks re-drawn; of the scales and biases only, every
       element fixed; or nothing) incscales=1|0 (scales train
       during the incremental phases or stay at their starting means)]"""
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
LS=float(args.get('ls',0)); SHIFT=int(args.get('shift',0)); SLR=float(args.get('slr',1)); WARM=float(args.get('warm',0))
RAMP=float(args.get('ramp',0)); BS=int(args.get('bs',64)); SEED=int(args.get('seed',42))
m = onnx.load(args.get('model', 'plugins/training/target/lenet/lenet-5-10-epochs.onnx'))
W = {i.name: torch.tensor(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
xtr, ytr = _fashion(args.get('fashion', '/usr/share/datasets/fashion-mnist'), 'train')
xte, yte = _fashion(args.get('fashion', '/usr/share/datasets/fashion-mnist'), 't10k')
VAL=int(args.get('val',0)); PLAINSTE=args.get('ste','scaled')=='plain'
if VAL>0: xva, yva, xtr, ytr = xtr[-VAL:], ytr[-VAL:], xtr[:-VAL], ytr[:-VAL]
ZS=args.get('zs','')
INC=[float(v) for v in filter(None,args.get('inc','').split(','))]; INCFINAL=args.get('incfinal','ttq'); INCSCALES=args.get('incscales','1')=='1'
L=['conv1','conv2','fc1','fc2','fc3']
P={}; LAT={}; SC={}
CHAN=set(filter(None,args.get('chan','').split(',')))
TL={kv.split(':')[0]:float(kv.split(':')[1]) for kv in filter(None,args.get('tl','').split(','))}
def tof(k): return TL.get(k,T)
ZSHARE={}
def thresh(k,l):
    # the layer's threshold on |latent|: t x max |latent|, or (zs=) the quantile at the layer's share of zeros
    if k in ZSHARE:
        a=l.detach().abs().flatten(); n=int(round(ZSHARE[k]*a.numel()))
        return a.kthvalue(n).values if n>0 else a.min()-1
    return (RAMPF[0]*tof(k)*l.abs().max()).detach()
def side_means(w,th):
    # per output channel (chan=) or per layer: the mean magnitudes of each side under the layer's threshold
    if w.ndim>1 and len(CHAN)>0 and CURRENT[0] in CHAN:
        f=w.reshape(len(w),-1); pos=(f>th).float(); neg=(f<-th).float()
        return (f*pos).sum(1)/pos.sum(1).clamp(min=1), (-f*neg).sum(1)/neg.sum(1).clamp(min=1)
    return w[w>th].mean().reshape(()), (-w[w<-th]).mean().reshape(())
CURRENT=['']
for k in L:
    CURRENT[0]=k
    w=W[k+'.weight']; mx=w.abs().max(); th=tof(k)*mx
    P[k+'.bias']=W[k+'.bias'].clone().requires_grad_()
    LAT[k]=(w/mx).clone().requires_grad_()
    if ZS: ZSHARE[k]=(w.abs()<=th).float().mean().item() if ZS=='init' else float(ZS)
    if k in ZSHARE:
        th=thresh(k,w)
    wp,wn=side_means(w,th)
    SC[k+'.wp']=wp.clone().requires_grad_(); SC[k+'.wn']=wn.clone().requires_grad_()
RAMPF=[1.0]
MAXW={k:W[k+'.weight'].abs().max() for k in L}; FIX={}
def fix_to(share):
    # INQ's partition: the largest |latent| of each layer's not yet fixed elements, until share of the layer is fixed
    for k in L:
        l=LAT[k].detach().abs().flatten(); old=FIX[k].flatten() if k in FIX else torch.zeros_like(l)
        want=int(round(share*l.numel())); have=int(old.sum().item())
        new=old.clone()
        if want>have:
            free=torch.where(old>0, torch.full_like(l,-1.0), l)
            new[free.topk(want-have).indices]=1.0
        FIX[k]=new.reshape(LAT[k].shape)
FLOAT=set(filter(None,args.get('float','').split(',')))
def tern(k):
    if k in FLOAT: return LAT[k]*W[k+'.weight'].abs().max()
    l=LAT[k]; n=l.numel(); th=thresh(k,l)
    pos=(l>th).float(); neg=(l<-th).float(); mid=1-pos-neg
    wp=SC[k+'.wp']; wn=SC[k+'.wn']
    if k in FIX:
        # incremental: fixed elements +Wp / 0 / -Wn by the threshold, latent frozen there; the rest float
        fx=FIX[k]; wpf=wp if INCSCALES else wp.detach(); wnf=wn if INCSCALES else wn.detach()
        val=fx*(pos*(wpf/n+(wpf-wpf/n).detach())-neg*(wnf/n+(wnf-wnf/n).detach()))
        return val+(1-fx)*l*MAXW[k]
    if wp.ndim==1:
        n=n//len(wp); shape=[-1]+[1]*(l.ndim-1); wp=wp.reshape(shape); wn=wn.reshape(shape)
    wps=wp/n + (wp-wp/n).detach(); wns=wn/n+(wn-wn/n).detach()
    val=pos*wps-neg*wns
    gain=(pos*wp+neg*wn+mid).detach() if not PLAINSTE else torch.ones_like(l)
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
groups=[{'params':list(LAT.values()),'weight_decay':WD},{'params':list(P.values()),'weight_decay':0},{'params':list(SC.values()),'weight_decay':0,'mult':SLR}]
opt=(torch.optim.AdamW if args.get('opt','adam')=='adamw' else torch.optim.Adam)(groups, lr=LR)
PHASES=[(EPOCHS,None)]
if INC:
    shares=INC[:-1]+{'ttq':[None],'fixed':[1.0],'none':[]}[INCFINAL]; n=len(shares)
    PHASES=[(max(1,EPOCHS*(i+1)//n-EPOCHS*i//n), shares[i]) for i in range(n)]
def vacc():
    return acc(xva,yva) if VAL>0 else float('nan')
def shifted(x):
    # random translation by up to SHIFT pixels each way, zero fill (a screening-only augmentation)
    if SHIFT==0: return x
    p=F.pad(x,(SHIFT,SHIFT,SHIFT,SHIFT)); n=len(x); out=torch.empty_like(x)
    dx=torch.randint(0,2*SHIFT+1,(n,)); dy=torch.randint(0,2*SHIFT+1,(n,))
    for j in range(n): out[j]=p[j,:,dy[j]:dy[j]+28,dx[j]:dx[j]+28]
    return out
epg=0
for phase,(PE,share) in enumerate(PHASES):
  if INC:
    if share is not None: fix_to(share)
    else: FIX.clear()
    print('phase',phase+1,'share',share,'epochs',PE,flush=True)
  steps=PE*((len(xtr)+BS-1)//BS); step=0
  opt=(torch.optim.AdamW if args.get('opt','adam')=='adamw' else torch.optim.Adam)(groups, lr=LR)
  for ep in range(PE):
    epg+=1
    g=torch.Generator().manual_seed(SEED+epg-1); perm=torch.randperm(len(xtr),generator=g); tl=0;t0=time.time(); corr=0
    for i in range(0,len(xtr),BS):
        idx=perm[i:i+BS]
        RAMPF[0]=min(1.0,step/(RAMP*steps/EPOCHS)) if RAMP>0 else 1.0
        if WARM>0 and step<WARM*steps: f=step/(WARM*steps)
        elif SCHED=='cosine': f=0.5*(1+np.cos(np.pi*step/steps))
        elif SCHED=='step': f=0.1**int(3*step/steps)
        else: f=1
        for gr in opt.param_groups: gr['lr']=LR*f*gr.get('mult',1)
        out=forward(shifted(xtr[idx])); loss=F.cross_entropy(out,ytr[idx],label_smoothing=LS)
        if KD:
            t=teacher(xtr[idx]); loss=KA*KT*KT*F.kl_div(F.log_softmax(out/KT,1),F.softmax(t/KT,1),reduction='batchmean')+(1-KA)*loss
        opt.zero_grad(); loss.backward(); opt.step(); step+=1; tl+=loss.item()*len(idx); corr+=(out.argmax(1)==ytr[idx]).sum().item()
        if LATCLIP:
            with torch.no_grad():
                for l in LAT.values(): l.clamp_(-1,1)
    print('epoch',epg,'loss %.4f train %.4f'%(tl/len(xtr),corr/len(xtr)),'val %.4f'%vacc(),'test %.4f'%acc(xte,yte),'%.0fs'%(time.time()-t0), flush=True)
if INC and INCFINAL!='ttq': fix_to(1.0)
print('RESULT', sys.argv[1:], 'val %.4f'%vacc(), 'test %.4f'%acc(xte,yte), {k:[round(x,4) for x in v.flatten().tolist()] for k,v in SC.items()})
