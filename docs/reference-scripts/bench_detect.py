"""Python peers of `cargo xtask bench detect`: NeuroKit2 `ecg_peaks` and wfdb-python XQRS on
the 24-hour single-lead record that xtask writes (the 48 MIT-BIH records' MLII joined).

Usage: python bench_detect.py RECORD [XQRS_SECONDS]  -> prints JSON on its last line.

Each detector is timed around its own call only (reading the record with wfdb.rdrecord is timed
apart, as `read_s`). NeuroKit2 runs on the whole signal. XQRS, about a hundred times slower,
runs on the first XQRS_SECONDS (default 1800) and is reported per sample as well, so that it
can be scaled to the whole signal. Run from a throw-away venv (pip install wfdb neurokit2);
not part of the product.
"""
import json
import sys
import time
import warnings

import neurokit2 as nk
import wfdb
from wfdb import processing

warnings.filterwarnings("ignore")
path = sys.argv[1]
xqrs_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1800.0

t0 = time.perf_counter()
rec = wfdb.rdrecord(path, channels=[0])
read_s = time.perf_counter() - t0
x = rec.p_signal[:, 0]
fs = rec.fs
n = len(x)

t0 = time.perf_counter()
_, info = nk.ecg_peaks(x, sampling_rate=fs)
nk_s = time.perf_counter() - t0
nk_beats = len(info["ECG_R_Peaks"])

m = min(n, int(xqrs_seconds * fs))
t0 = time.perf_counter()
xq = processing.xqrs_detect(sig=x[:m], fs=fs, verbose=False)
xqrs_s = time.perf_counter() - t0

print(json.dumps({
    "samples": n,
    "fs": fs,
    "read_s": read_s,
    "neurokit2_s": nk_s,
    "neurokit2_beats": nk_beats,
    "neurokit2_version": nk.__version__,
    "xqrs_samples": m,
    "xqrs_s": xqrs_s,
    "xqrs_beats": len(xq),
    "xqrs_s_per_sample": xqrs_s / m,
    "wfdb_version": wfdb.__version__,
}))
