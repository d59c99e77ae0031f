"""Check for issue 6 (run from a throw-away venv with numpy, pandas, pyarrow, safetensors; not part of the product):
`wonhee impute` on test windows with the hidden values truly removed (empty cells), MSE on hidden points in
standardized units, vs what `wonhee eval` reported for the same run.

Usage: python impute_agreement.py PREPARED RUN WONHEE_BINARY N_WINDOWS
"""
import json, os, subprocess, sys
import numpy as np, pandas as pd
from safetensors.numpy import load_file
prep, run, wonhee, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
b = pd.read_parquet(f"{prep}/beats.parquet")
sig = load_file(f"{prep}/signals.safetensors")
sc = json.load(open(f"{prep}/summary.json"))["scaler"]
test = b[b.split == "test"].reset_index(drop=True)
rng = np.random.default_rng(7)
rows = rng.choice(len(test), n, replace=False)
m = json.load(open(f"{run}/metrics.json"))
os.makedirs("/tmp/agree", exist_ok=True)
out = {}
for K in (200, 370, 540):
    se, cnt = 0.0, 0
    for r in rows:
        t = test.iloc[r]
        w = (sig[t.record][t.centre - 320 : t.centre + 320] - sc["mean"]) / sc["std"]
        hidden = np.zeros(640, bool)
        hidden[rng.choice(640, K, replace=False)] = True
        with open("/tmp/agree/w.csv", "w") as f:
            f.write("value\n")
            for v, h in zip(w, hidden):
                f.write("\n" if h else f"{v:.9g}\n")
        subprocess.run([wonhee, "impute", "--run", run, "--input", "/tmp/agree/w.csv", "--out",
                        "/tmp/agree/o.csv", "--units", "standardized"], check=True, capture_output=True)
        o = pd.read_csv("/tmp/agree/o.csv")["value"].to_numpy()
        se += float(((o[hidden] - w[hidden]) ** 2).sum()); cnt += K
    ev = next(x for x in m["imputation"] if x["k"] == K)["model"]["mse"]["value"]
    out[K] = (se / cnt, ev, se / cnt / ev - 1)
    print(f"K={K}: wonhee impute {se/cnt:.5f} vs wonhee eval {ev:.5f} ({100*(se/cnt/ev-1):+.1f}%)", flush=True)
