"""Each exported point under a folder (argv[1]) against the same point in results/<plan>
(argv[2], default strong): ACC, and whether the predicted and K-means labels are identical.

    python -m studies.strong_table_reproduces.compare ~/.cache/dssec_jax/strong_reproduces/results strong
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np


def main(folder: pathlib.Path, plan: str) -> None:
    for result in sorted(folder.glob("*/seed_*/result.json")):
        point, seed = result.parent.parent.name, result.parent.name
        theirs = pathlib.Path("results") / plan / point / seed
        a, b = json.loads(result.read_text()), json.loads((theirs / "result.json").read_text())
        la, lb = np.load(result.parent / "labels.npz"), np.load(theirs / "labels.npz")
        same = {k: bool(np.array_equal(la[k], lb[k])) for k in lb.files}
        print(f"{point} {seed}: ACC now {a['acc']:.4f}, committed {b['acc']:.4f}; identical {same}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "strong")
