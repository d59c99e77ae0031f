"""Reference numbers for wonhee-tsne's metrics: scikit-learn's trustworthiness and a
leave-one-out k-NN label vote (ties to the smallest label) on a fixed noisy embedding.

Run in a throw-away venv (numpy, scikit-learn):
    python docs/reference-scripts/tsne_metrics_fixture.py > crates/wonhee-tsne/tests/fixtures/metrics.json
"""

import json

import numpy as np
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors

rng = np.random.default_rng(20240607)
n, dim, classes = 150, 6, 3
labels = rng.integers(0, classes, n)
centres = rng.normal(0, 3, (classes, dim))
data = (centres[labels] + rng.normal(0, 1.5, (n, dim))).astype(np.float32)
# A deliberately imperfect 2-D embedding: the first two coordinates plus noise.
emb = data[:, :2].astype(np.float64) + rng.normal(0, 1.0, (n, 2))


def knn_accuracy(y, lab, k):
    idx = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    votes = lab[idx]
    pred = np.array([np.bincount(v, minlength=classes).argmax() for v in votes])
    return float(np.mean(pred == lab))


out = {
    "n": n,
    "dim": dim,
    "data": [float(x) for x in data.ravel()],
    "embedding": [float(x) for x in emb.ravel()],
    "labels": [int(x) for x in labels],
    "trustworthiness": {str(k): float(trustworthiness(data, emb, n_neighbors=k)) for k in (1, 5, 12)},
    "knn_accuracy": {str(k): knn_accuracy(emb, labels, k) for k in (1, 5, 10)},
}
print(json.dumps(out))
