"""Python peer of `cargo xtask bench wfdb`: wfdb-python rdrecord + rdann on all 48 records.

Usage: python bench_wfdb.py MITDB_DIR [REPEATS]  -> prints JSON {"best_s":..., "mean_s":..., "runs":...}
Run from a throw-away venv (pip install wfdb); not part of the product.
"""
import json
import sys
import time

import wfdb

root = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
names = open(f"{root}/RECORDS").read().split()
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    total = 0
    for n in names:
        rec = wfdb.rdrecord(f"{root}/{n}")  # both signals, physical float64
        ann = wfdb.rdann(f"{root}/{n}", "atr")
        total += rec.p_signal.size + len(ann.sample)
    times.append(time.perf_counter() - t0)
print(json.dumps({"best_s": min(times), "mean_s": sum(times) / len(times), "runs": len(times), "items": total}))
