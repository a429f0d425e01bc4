"""Tables as users' files come: ids, timestamps, text categories, constants, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd


def transactions(rows: int = 400, seed: int = 0, gaps: int = 0) -> pd.DataFrame:
    """A card-transaction table as it comes: an id, a timestamp, text categories, a constant, numbers;
    ``gaps`` empty cells in ``amount`` and as many in ``merchant_category``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + rows),
            "timestamp": pd.date_range("2026-01-01", periods=rows, freq="h").strftime("%Y-%m-%dT%H:%M:%S"),
            "merchant_category": rng.choice(["food", "travel", "fuel"], rows),
            "currency": "EUR",
            "amount": rng.gamma(2.0, 30.0, rows).round(2),
            "items": rng.integers(1, 5, rows),
            **{f"V{i}": rng.normal(size=rows) for i in range(1, 4)},
            "is_fraud": (rng.random(rows) < 0.05).astype(int),
        }
    )
    frame.loc[frame.is_fraud == 1, "amount"] *= 20
    frame.loc[rng.choice(rows, gaps, replace=False), "amount"] = np.nan
    frame.loc[rng.choice(rows, gaps, replace=False), "merchant_category"] = None
    return frame
