"""Expected beat-window counts for wonhee-dataset's mitdb test, from wfdb-python annotations and
the window-fit rule (beat at sample s -> c = round(s * 128 / 360); keep if c - 320 >= 0 and
c + 320 <= ceil(n * 16 / 45)). Throw-away venv; not part of the product.

    python dataset_windows.py ../shared/data/mitdb > crates/wonhee-dataset/tests/data/mitdb_windows.tsv
"""
import math
import sys

import numpy as np
import wfdb

AAMI = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
root = sys.argv[1]
print("record\tlead\tn_out\t" + "\t".join(f"win_{c}" for c in AAMI) + "\t" + "\t".join(f"drop_{c}" for c in AAMI))
for r in open(f"{root}/RECORDS").read().split():
    h = wfdb.rdheader(f"{root}/{r}")
    lead = h.sig_name[h.sig_name.index("MLII")] if "MLII" in h.sig_name else h.sig_name[0]
    n_out = math.ceil(h.sig_len * 16 / 45)
    ann = wfdb.rdann(f"{root}/{r}", "atr")
    win = {c: 0 for c in AAMI}
    drop = {c: 0 for c in AAMI}
    for s, sym in zip(ann.sample, ann.symbol):
        cls = next((c for c, syms in AAMI.items() if sym in syms), None)
        if cls is None:
            continue
        c = int(np.round(s * 128 / 360))
        if c - 320 >= 0 and c + 320 <= n_out:
            win[cls] += 1
        else:
            drop[cls] += 1
    print(f"{r}\t{lead}\t{n_out}\t" + "\t".join(str(win[c]) for c in AAMI) + "\t" + "\t".join(str(drop[c]) for c in AAMI))
