"""Write a fraud-style table to try ``dataset=table`` on: ``python examples/make_transactions.py [path]``.

3,000 "transactions" with twelve numeric features that follow three hidden factors (spending
patterns), a text column (``merchant``, not a feature by default) and ``is_fraud``: 60 rows that break
the pattern while keeping each feature's usual range, as frauds that are not simply large amounts do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def transactions(
    n_normal: int = 3000, n_fraud: int = 60, n_features: int = 12, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n_normal, 3))
    pattern = np.tanh(factors @ rng.normal(size=(3, n_features)))
    normal = pattern + 0.05 * rng.normal(size=(n_normal, n_features))
    fraud = rng.normal(size=(n_fraud, n_features)) * normal.std(axis=0) + normal.mean(axis=0)
    frame = pd.DataFrame(np.vstack([normal, fraud]), columns=[f"v{i}" for i in range(n_features)])
    frame["merchant"] = rng.choice(["grocery", "online", "fuel"], len(frame))
    frame["is_fraud"] = np.r_[np.zeros(n_normal, int), np.ones(n_fraud, int)]
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "transactions.csv")
    transactions().to_csv(path, index=False)
    print(f"wrote {path}")
