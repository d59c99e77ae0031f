"""openTSNE on the points `cargo run -p wonhee-tsne --example compare` wrote, scored with
scikit-learn; also scores the Rust embedding (`ours.f64`) the same way. Prints JSON.

Run by the example with `--python /tmp/tsnevenv/bin/python` (a throw-away venv with
openTSNE, numpy, scikit-learn). Files in --dir: features.f32 (n x dim, little-endian f32),
labels.u8, ours.f64 (n x 2, little-endian f64); writes opentsne.f64 there.

Or on the tables `wonhee tsne` writes (needs pandas + pyarrow for parquet):

    wonhee tsne --data PREPARED --per-class 2000 --threads 2 --out ours.csv --features-out features.csv
    python tsne_opentsne.py --features features.csv --ours ours.csv --threads 2 [--save opentsne.csv]

where every column of the features table but `label`, `record` and `sample` is a feature.
"""

import argparse
import json
import time

import numpy as np
import openTSNE
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors


def knn_accuracy(y, lab, k=10):
    """Leave-one-out k-NN vote; a tie goes to the smallest label."""
    idx = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    m = int(lab.max()) + 1
    pred = np.array([np.bincount(v, minlength=m).argmax() for v in lab[idx]])
    return float(np.mean(pred == lab))


ap = argparse.ArgumentParser()
ap.add_argument("--dir")
ap.add_argument("--n", type=int)
ap.add_argument("--dim", type=int)
ap.add_argument("--features", help="features table written by `wonhee tsne --features-out`")
ap.add_argument("--ours", help="embedding table written by `wonhee tsne --out`")
ap.add_argument("--save", help="write openTSNE's embedding as a table (x, y, label)")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--perplexity", type=float, default=30.0)
ap.add_argument("--iterations", type=int, default=750)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--repeat", type=int, default=1)
a = ap.parse_args()


def read_table(path):
    import pandas as pd

    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


if a.features:
    f = read_table(a.features)
    extra = [c for c in ("label", "record", "sample") if c in f.columns]
    x = f.drop(columns=extra).to_numpy(dtype=np.float32)
    lab = np.unique(f["label"].astype(str), return_inverse=True)[1].astype(np.int64)
    o = read_table(a.ours)
    ours = o[["x", "y"]].to_numpy(dtype=np.float64)
    assert (o["label"].astype(str).to_numpy() == f["label"].astype(str).to_numpy()).all()
else:
    x = np.fromfile(f"{a.dir}/features.f32", dtype="<f4").reshape(a.n, a.dim)
    lab = np.fromfile(f"{a.dir}/labels.u8", dtype=np.uint8).astype(np.int64)
    ours = np.fromfile(f"{a.dir}/ours.f64", dtype="<f8").reshape(a.n, 2)

times = []
for _ in range(a.repeat):
    t = time.perf_counter()
    emb = openTSNE.TSNE(
        perplexity=a.perplexity,
        n_iter=a.iterations - 250,
        early_exaggeration_iter=250,
        n_jobs=a.threads,
        random_state=a.seed,
    ).fit(x)
    times.append(time.perf_counter() - t)
emb = np.asarray(emb)
if a.dir:
    emb.astype("<f8").tofile(f"{a.dir}/opentsne.f64")
if a.save:
    import pandas as pd

    labels = f["label"] if a.features else lab
    pd.DataFrame({"x": emb[:, 0], "y": emb[:, 1], "label": labels}).to_csv(a.save, index=False)

print(
    json.dumps(
        {
            "version": openTSNE.__version__,
            "n": int(x.shape[0]),
            "dim": int(x.shape[1]),
            "threads": a.threads,
            "seconds": times,
            "trustworthiness_5": float(trustworthiness(x, emb, n_neighbors=5)),
            "knn_accuracy_10": knn_accuracy(emb, lab),
            "sklearn_on_ours": {
                "trustworthiness_5": float(trustworthiness(x, ours, n_neighbors=5)),
                "knn_accuracy_10": knn_accuracy(ours, lab),
            },
        }
    )
)
