# Issue 19 lever screening (docs/benchmarks.md, "Seed ensembles and calibrated decision offsets"):
# pooled DS1-fold metrics of single models, seed ensembles (mean log-probability) and per-class
# log-probability offsets fitted on two folds and applied to the third. Reads the CSVs of
# `wonhee eval --predictions` from /tmp/preds/<config>-<fold>.csv. Needs numpy; documentation
# only, nothing in the build runs it.
import numpy as np, csv, itertools, sys
C=['N','S','V','F','Q']
def load(name, f):
    rows=list(csv.DictReader(open(f'/tmp/preds/{name}-{f}.csv')))
    y=np.array([C.index(r['true_class']) for r in rows])
    p=np.array([[float(r['p_'+c]) for c in C] for r in rows])
    w=np.array([int(r['window']) for r in rows])
    return w,y,p
def metrics(y,pred):
    m=np.zeros((5,5))
    np.add.at(m,(y,pred),1)
    idx=[0,1,2,3]
    n4=m[idx].sum()
    out={}
    f1=[];sp=[]
    for k in idx:
        tp=m[k,k]; fn=m[k].sum()-tp; fp=sum(m[t,k] for t in idx if t!=k)
        se=tp/(tp+fn) if tp+fn else 0; pp=tp/(tp+fp) if tp+fp else 0
        f1.append(2*tp/(2*tp+fp+fn) if (2*tp+fp+fn) else 0); sp.append((se,pp))
    acc=sum(m[k,k] for k in idx)/n4
    sub=m[np.ix_(idx,idx)]; n=sub.sum(); po=np.trace(sub)/n; pe=(sub.sum(1)*sub.sum(0)).sum()/n/n
    kap=(po-pe)/(1-pe)
    j=sum(sp[1])+sum(sp[2])
    return dict(acc=acc,S=sp[1],V=sp[2],F=sp[3],mf1=np.mean(f1),kappa=kap,jk=kap/2+j/8)
def fmt(d):
    return f"acc {100*d['acc']:.2f} S {100*d['S'][0]:.1f}/{100*d['S'][1]:.1f} V {100*d['V'][0]:.1f}/{100*d['V'][1]:.1f} F {100*d['F'][0]:.1f}/{100*d['F'][1]:.1f} mF1 {d['mf1']:.3f} k {d['kappa']:.3f} jk {d['jk']:.3f}"
def folds(names):
    out=[]
    for f in range(3):
        ws=None; ps=[]
        for nm in names:
            w,y,p=load(nm,f)
            if ws is None: ws,ys=w,y
            else: assert (ws==w).all()
            ps.append(np.log(np.clip(p,1e-9,1)))
        out.append((ys,np.mean(ps,0)))  # mean log-prob (geometric)
    return out
def pooled(fl,b=np.zeros(5)):
    y=np.concatenate([f[0] for f in fl]); lp=np.concatenate([f[1] for f in fl])
    return metrics(y,(lp+b).argmax(1))
def fit_bias(fl,key='jk'):
    b=np.zeros(5); grid=np.arange(-3,3.01,0.25)
    best=pooled(fl,b)[key]
    for it in range(3):
        for k in [1,2,3,4]:
            for g in grid:
                bb=b.copy(); bb[k]=g
                v=pooled(fl,bb)[key]
                if v>best+1e-9: best,b=v,bb
    return b
sets={'ctx42':['context-1000'],'ctx7':['context-1000-seed7'],'aug42':['context-augment-1000'],'aug7':['context-augment-1000-seed7'],
 'ens ctx 2 seeds':['context-1000','context-1000-seed7'],'ens aug 2 seeds':['context-augment-1000','context-augment-1000-seed7'],
 'ens all 4':['context-1000','context-1000-seed7','context-augment-1000','context-augment-1000-seed7']}
key=sys.argv[1] if len(sys.argv)>1 else 'jk'
for nm,s in sets.items():
    fl=folds(s)
    print(f"{nm:18s} raw      ", fmt(pooled(fl)))
    # nested: bias fit on two folds, applied to the third
    ys=[];pr=[];bs=[]
    for h in range(3):
        tr=[fl[i] for i in range(3) if i!=h]
        b=fit_bias(tr,key); bs.append(b)
        ys.append(fl[h][0]); pr.append((fl[h][1]+b).argmax(1))
    d=metrics(np.concatenate(ys),np.concatenate(pr))
    print(f"{nm:18s} nested-{key}", fmt(d), ' biases', [np.round(b[1:],2).tolist() for b in bs])
