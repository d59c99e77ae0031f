"""Python peer of `cargo xtask bench prepare`: the paper's data path in numpy/scipy/wfdb-python.

All 48 records: MLII (or lead 0 where there is none) -> per-record z-score -> resample 360 -> 128 Hz
(scipy.signal.resample_poly, 32/90) -> 640-point windows centred on each AAMI beat (numpy) -> 80:20
split (seeded permutation) -> train-set mean/std -> write what `wonhee prepare --split paper` writes:
each record's 128 Hz signal once (.npz, float32) and the beat index (record, centre, class, split)
with the scaler; the 280 MB window tensor is not written (neither does `wonhee prepare`).

Usage: python bench_prepare.py MITDB_DIR OUT_DIR [REPEATS] -> prints JSON {"best_s", "mean_s", "runs", "windows"}
Run from a throw-away venv (pip install wfdb scipy numpy); not part of the product.
"""
import json
import os
import sys
import time

import numpy as np
import scipy.signal
import wfdb

AAMI = {s: c for c, syms in enumerate(["NLRej", "AaJS", "VE", "F", "/fQ"]) for s in syms}


def prepare(root, out):
    names = open(f"{root}/RECORDS").read().split()
    windows, labels, rec_of, centres, signals = [], [], [], [], {}
    for n in names:
        rec = wfdb.rdrecord(f"{root}/{n}")
        lead = rec.sig_name.index("MLII") if "MLII" in rec.sig_name else 0
        x = rec.p_signal[:, lead]
        x = (x - x.mean()) / x.std()
        y = scipy.signal.resample_poly(x, 32, 90)
        signals[n] = y.astype(np.float32)
        ann = wfdb.rdann(f"{root}/{n}", "atr")
        for s, sym in zip(ann.sample, ann.symbol):
            c = AAMI.get(sym)
            if c is None:
                continue
            centre = int(round(s * 128 / 360))
            if centre - 320 >= 0 and centre + 320 <= len(y):
                windows.append(y[centre - 320 : centre + 320])
                labels.append(c)
                rec_of.append(int(n))
                centres.append(centre)
    w = np.asarray(windows, dtype=np.float32)
    lab = np.asarray(labels, dtype=np.int64)
    perm = np.random.default_rng(42).permutation(len(w))
    n_test = int(round(0.2 * len(w)))
    test, train = perm[:n_test], perm[n_test:]
    mean, std = w[train].mean(), w[train].std()
    split = np.zeros(len(w), dtype=np.uint8)
    split[test] = 1
    os.makedirs(out, exist_ok=True)
    np.savez(f"{out}/signals.npz", **signals)
    np.savez(f"{out}/beats.npz", record=np.asarray(rec_of, dtype=np.int32),
             centre=np.asarray(centres, dtype=np.int64), label=lab, split=split,
             scaler=np.asarray([mean, std]))
    return len(w)


root, out = sys.argv[1], sys.argv[2]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    n = prepare(root, out)
    times.append(time.perf_counter() - t0)
print(json.dumps({"best_s": min(times), "mean_s": sum(times) / len(times), "runs": len(times), "windows": n}))
