"""Reference figures for wonhee-wfdb's mitdb test, computed with wfdb-python.

Run in a throw-away venv outside the repo (pip install wfdb numpy):
    python mitdb_wfdb_python.py ../shared/data/mitdb > crates/wonhee-wfdb/tests/data/mitdb_wfdb_python.tsv
Not part of the product; kept so the committed figures can be regenerated.
"""
import hashlib
import sys

import numpy as np
import wfdb

root = sys.argv[1]
records = open(f"{root}/RECORDS").read().split()
print("record\tkind\tindex\tn\tsha256\textra")
for r in records:
    rec = wfdb.rdrecord(f"{root}/{r}", physical=False)
    for i in range(rec.n_sig):
        d = rec.d_signal[:, i].astype("<i4")
        idx = [0, 1, 2, 1000, 123456, len(d) - 1]
        extra = ",".join(f"{j}:{int(d[j])}" for j in idx)
        print(f"{r}\tdigital\t{i}\t{len(d)}\t{hashlib.sha256(d.tobytes()).hexdigest()}\t{extra}")
    rec = wfdb.rdrecord(f"{root}/{r}")
    for i in range(rec.n_sig):
        p = rec.p_signal[:, i].astype("<f8")
        extra = ",".join(f"{j}:{float(p[j])!r}" for j in [0, 100000, len(p) - 1])
        print(f"{r}\tphysical\t{i}\t{len(p)}\t{hashlib.sha256(p.tobytes()).hexdigest()}\t{extra}")
    ann = wfdb.rdann(f"{root}/{r}", "atr")
    lines = []
    for k in range(len(ann.sample)):
        aux = ann.aux_note[k].rstrip("\x00")
        lines.append(f"{ann.sample[k]},{ann.symbol[k]},{ann.subtype[k]},{ann.chan[k]},{ann.num[k]},{aux}\n")
    blob = "".join(lines).encode("latin-1")
    n_aux = sum(1 for a in ann.aux_note if a)
    print(f"{r}\tatr\t0\t{len(ann.sample)}\t{hashlib.sha256(blob).hexdigest()}\taux:{n_aux}")
