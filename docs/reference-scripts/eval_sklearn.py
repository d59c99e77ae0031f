"""Reference numbers for wonhee-eval's classification metrics, from scikit-learn.

Writes crates/wonhee-eval/tests/data/sklearn_cases.json: a few seeded random label vectors
(including classes never predicted and classes never true) with sklearn's accuracy, balanced
accuracy, macro-F1, per-class precision/recall/F1 and one-vs-rest counts.

Run in a throw-away venv outside the repo:
    python3 -m venv /tmp/evalsk && /tmp/evalsk/bin/pip install scikit-learn numpy
    /tmp/evalsk/bin/python docs/reference-scripts/eval_sklearn.py
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn import metrics

N_CLASSES = 5
OUT = Path(__file__).resolve().parents[2] / "crates/wonhee-eval/tests/data/sklearn_cases.json"


def nan_to_none(xs):
    return [None if (x is None or math.isnan(x)) else float(x) for x in xs]


def case(name, y_true, y_pred):
    labels = list(range(N_CLASSES))
    present = sorted(set(y_true) | set(y_pred))
    p, r, f, _ = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=np.nan
    )
    # F1 with zero_division=0 (the F1 of a class with support but no predictions is 0);
    # classes neither true nor predicted are undefined (None) in wonhee-eval.
    _, _, f0, _ = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0.0
    )
    f1 = [float(f0[k]) if k in present else None for k in labels]
    mcm = metrics.multilabel_confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "name": name,
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
        # sklearn's default labels: the union of true and predicted classes.
        "macro_f1": metrics.f1_score(y_true, y_pred, average="macro"),
        "precision": nan_to_none(p),
        "recall": nan_to_none(r),
        "f1": f1,
        # one-vs-rest [[tn, fp], [fn, tp]] per class
        "tn": [int(m[0, 0]) for m in mcm],
        "fp": [int(m[0, 1]) for m in mcm],
        "fn": [int(m[1, 0]) for m in mcm],
        "tp": [int(m[1, 1]) for m in mcm],
        "confusion": metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def main():
    rng = np.random.default_rng(20240607)
    cases = []
    # Uniform random labels.
    cases.append(case("uniform_200", rng.integers(0, 5, 200), rng.integers(0, 5, 200)))
    # Imbalanced (MIT-BIH-like) with a mostly correct classifier.
    p = np.array([0.80, 0.05, 0.08, 0.02, 0.05])
    t = rng.choice(5, 1000, p=p)
    pred = np.where(rng.random(1000) < 0.85, t, rng.choice(5, 1000, p=p))
    cases.append(case("imbalanced_1000", t, pred))
    # Class 3 never predicted; class 4 never true.
    t = rng.choice([0, 1, 2, 3], 300)
    pred = rng.choice([0, 1, 2, 4], 300)
    cases.append(case("missing_classes_300", t, pred))
    # Class 2 neither true nor predicted, tiny sample.
    t = rng.choice([0, 1, 3, 4], 37)
    pred = np.where(rng.random(37) < 0.6, t, rng.choice([0, 1, 3, 4], 37))
    cases.append(case("absent_class_37", t, pred))
    doc = {
        "generator": "docs/reference-scripts/eval_sklearn.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "n_classes": N_CLASSES,
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
