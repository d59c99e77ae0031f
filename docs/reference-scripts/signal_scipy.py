"""Reference numbers for wonhee-signal's tests, computed with scipy (throw-away venv).

    python signal_scipy.py ../shared/data/mitdb > crates/wonhee-signal/tests/data/scipy_reference.json
Not part of the product.
"""
import json
import math
import sys

import numpy as np
import scipy.signal as ss
import wfdb


def synth(n):
    i = np.arange(n, dtype=np.float64)
    return np.sin(0.05 * i) + 0.3 * np.cos(0.9 * i + 1.0) + ((i * 7919) % 1009) / 1009.0 - 0.5


out = {"scipy": __import__("scipy").__version__, "poly": [], "fft": [], "records": []}
for n, pairs, nums in [
    (997, [(16, 45), (45, 16), (2, 3), (3, 2), (1, 5), (7, 1), (128, 360)], (355, 300, 1001, 64)),
    (1000, [(16, 45), (3, 2)], (355, 1000, 1500)),
]:
    x = synth(n)
    for up, down in pairs:
        out["poly"].append({"n": n, "up": up, "down": down, "y": ss.resample_poly(x, up, down).tolist()})
    for num in nums:
        out["fft"].append({"n": n, "num": num, "y": ss.resample(x, num).tolist()})
out["kaiser_9_5"] = ss.windows.kaiser(9, 5.0).tolist()
out["firwin_901_45"] = ss.firwin(901, 1.0 / 45, window=("kaiser", 5.0)).tolist()

root = sys.argv[1]
for r in open(f"{root}/RECORDS").read().split():
    rec = wfdb.rdrecord(f"{root}/{r}")
    lead = rec.sig_name.index("MLII") if "MLII" in rec.sig_name else 0
    x = rec.p_signal[:, lead]
    x = (x - x.mean()) / x.std()
    n_out = math.ceil(len(x) * 16 / 45)
    yp = ss.resample_poly(x, 16, 45)
    yf = ss.resample(x, n_out)
    pos = [int(k * (n_out - 1) / 15) for k in range(16)]
    out["records"].append({
        "record": r, "lead": lead, "n_out": int(len(yp)),
        "poly_sum": float(yp.sum()), "poly_sumsq": float((yp * yp).sum()),
        "poly_at": {str(p): float(yp[p]) for p in pos},
        "fft_sum": float(yf.sum()), "fft_sumsq": float((yf * yf).sum()),
        "fft_at": {str(p): float(yf[p]) for p in pos},
    })
json.dump(out, sys.stdout)
