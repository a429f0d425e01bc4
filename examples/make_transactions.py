"""Write a card-transaction table to try ``dataset=table`` on, as such tables come:
``python examples/make_transactions.py [path] [seed]``.

5,000 rows: ``id`` (unique integers), ``timestamp`` (ISO text), ``merchant_category`` and ``country``
(text), ``amount`` (50 empty cells), ``V1 .. V10`` (numbers that follow three hidden factors, as a
card's spending pattern does) and ``is_fraud`` (2 %). Half the frauds break the spending pattern while
keeping each number's usual range; the other half keep the pattern but come from a merchant category
or a country that normal rows seldom show, with larger amounts: only the text columns tell them apart.
Another seed draws new payments of the same kind (the pattern stays): a file to score.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIES = ["grocery", "fuel", "online", "travel", "restaurants", "electronics"]
COUNTRIES = ["DE", "FR", "NL", "BE", "ES", "NG"]


def transactions(
    n: int = 5000, fraud_share: float = 0.02, gaps: int = 50, seed: int = 0, values: int = 10
) -> pd.DataFrame:
    """``n`` payments, ``values`` pattern columns ``V1 ..`` (10 by default; 25 make a 31-column
    table, the benchmarks' large one)."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(n) < fraud_share
    pattern_break = fraud & (rng.random(n) < 0.5)
    elsewhere = fraud & ~pattern_break
    factors = rng.normal(size=(n, 3))
    pattern = np.random.default_rng(0).normal(size=(3, values))  # one pattern whatever the seed: new files
    pattern_values = np.tanh(factors @ pattern) + 0.05 * rng.normal(size=(n, values))  # of the same payments
    pattern_values[pattern_break] = rng.normal(size=(pattern_break.sum(), values)) * pattern_values.std(
        axis=0
    ) + pattern_values.mean(axis=0)
    category = rng.choice(CATEGORIES, n, p=[0.36, 0.2, 0.2, 0.1, 0.13, 0.01])
    category[elsewhere] = rng.choice(["electronics", "online", "travel"], elsewhere.sum(), p=[0.6, 0.2, 0.2])
    country = rng.choice(COUNTRIES, n, p=[0.6, 0.2, 0.1, 0.05, 0.045, 0.005])
    country[elsewhere] = rng.choice(["NG", "DE", "ES"], elsewhere.sum(), p=[0.6, 0.2, 0.2])
    amount = rng.gamma(2.0, 25.0, n) * np.where(elsewhere, 2.5, 1.0)
    seconds = np.sort(rng.uniform(0, 90 * 86400, n))
    frame = pd.DataFrame(
        {
            "id": np.arange(100_000, 100_000 + n),
            "timestamp": (pd.Timestamp("2026-01-01") + pd.to_timedelta(seconds, unit="s")).strftime(
                "%Y-%m-%dT%H:%M:%S"
            ),
            "merchant_category": category,
            "country": country,
            "amount": amount.round(2),
            **{f"V{i + 1}": pattern_values[:, i].round(5) for i in range(values)},
            "is_fraud": fraud.astype(int),
        }
    )
    frame.loc[rng.choice(n, gaps, replace=False), "amount"] = np.nan
    return frame


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "transactions.csv")
    transactions(seed=int(sys.argv[2]) if len(sys.argv) > 2 else 0).to_csv(path, index=False)
    print(f"wrote {path}")
