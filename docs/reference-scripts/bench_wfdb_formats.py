"""Python peer of `cargo xtask bench wfdb`, per signal format: wfdb-python's reading of one
synthetic record per format.

    python bench_wfdb_formats.py make DIR          -> writes the records xtask cannot
    python bench_wfdb_formats.py time DIR REPEATS  -> times rdrecord on every record

`make`: DIR/plan.json (written by xtask) lists the records to write, each with its format,
sampling frequency, gains, baselines and the raw samples xtask generated (`NAME.i32`:
little-endian int32, signal after signal). Formats 24, 32, 508, 516 and 524 are written with
wfdb-python's own writer (`Record.wrsamp`; FLAC through soundfile), 61 and 160 are packed
with numpy and their headers written with `Record.wrheader` (wfdb-python does not write
them). Prints JSON {"made": [names]}.

`time`: every record named in DIR/RECORDS is read whole with `wfdb.rdrecord(path,
physical=False)` (both signals, digital values), best of REPEATS, one thread. Prints JSON
{"wfdb_version", "records": {name: {"best_s", "checks"}}}, where checks holds per signal
[sum of samples, sum of sample * (i % 1021 + 1)] (i the sample index), which xtask compares
with our reader's values.

Run from a throw-away venv (pip install wfdb soundfile); not part of the product.
"""
import os

# One thread: wfdb-python itself is single-threaded; keep numpy's BLAS from spreading out.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import wfdb  # noqa: E402


def checksum(sig):
    """[sum, weighted sum] of one signal's digital samples, in int64 (no overflow: |v| <
    2^31, 1021 * 650,000 * 2^31 < 2^63)."""
    x = np.asarray(sig, dtype=np.int64)
    w = np.arange(len(x), dtype=np.int64) % 1021 + 1
    return [int(x.sum()), int((x * w).sum())]


def header_checksum(sig):
    c = int(np.sum(np.asarray(sig, dtype=np.int64))) % 65536
    return c - 65536 if c > 32767 else c


def make(folder):
    plan = json.load(open(os.path.join(folder, "plan.json")))
    made = []
    for r in plan["records"]:
        name, fmt, k = r["name"], str(r["format"]), len(r["gain"])
        raw = np.fromfile(os.path.join(folder, name + ".i32"), dtype="<i4")
        sigs = raw.reshape(k, -1).astype(np.int64)
        n = sigs.shape[1]
        rec = wfdb.Record(
            record_name=name, n_sig=k, fs=r["fs"], sig_len=n, file_name=[name + ".dat"] * k,
            fmt=[fmt] * k, samps_per_frame=[1] * k, skew=[0] * k,
            adc_gain=r["gain"], baseline=r["baseline"], units=["mV"] * k,
            adc_res=r["adc_res"], adc_zero=[0] * k, init_value=[int(s[0]) for s in sigs],
            checksum=[header_checksum(s) for s in sigs], block_size=[0] * k,
            sig_name=r["sig_name"], e_d_signal=[s for s in sigs],
        )
        if fmt in ("61", "160"):
            rec.wrheader(write_dir=folder, expanded=True)
            frames = sigs.T  # interleaved: frame after frame
            if fmt == "61":
                data = frames.astype(">i2").tobytes()
            else:
                data = (frames + 32768).astype("<u2").tobytes()
            with open(os.path.join(folder, name + ".dat"), "wb") as f:
                f.write(data)
        else:
            rec.wrsamp(expanded=True, write_dir=folder)
        made.append(name)
    print(json.dumps({"made": made, "wfdb_version": wfdb.__version__}))


def time_all(folder, repeats):
    names = open(os.path.join(folder, "RECORDS")).read().split()
    out = {}
    for name in names:
        path = os.path.join(folder, name)
        times = []
        rec = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            rec = wfdb.rdrecord(path, physical=False)
            times.append(time.perf_counter() - t0)
        out[name] = {
            "best_s": min(times),
            "checks": [checksum(rec.d_signal[:, ch]) for ch in range(rec.n_sig)],
        }
    print(json.dumps({"wfdb_version": wfdb.__version__, "records": out}))


if __name__ == "__main__":
    cmd, folder = sys.argv[1], sys.argv[2]
    if cmd == "make":
        make(folder)
    elif cmd == "time":
        time_all(folder, int(sys.argv[3]) if len(sys.argv) > 3 else 3)
    else:
        sys.exit(f"unknown command {cmd}")
