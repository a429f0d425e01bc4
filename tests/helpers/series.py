"""Small sensor logs as users' files come: a time column, correlated channels, a label."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Where the planted faults of :func:`sensor_log` lie (first point, points), in the default
#: time-ordered split of 1,800 points (train 0-899, validation 900-1169, test 1170-1799): one
#: in the training part (its windows never train), one in validation, two in the test part.
FAULTS = {"dip": (300, 5), "spike": (1000, 6), "level shift": (1300, 40), "stuck": (1600, 60)}


def sensor_log(points: int = 1800, seed: int = 0, time: str = "iso") -> pd.DataFrame:
    """Two channels a cycle drives (``load``, and ``current`` following it) with noise, a ``time``
    column (ISO text, or whole seconds with ``time="seconds"``) and ``is_anomaly``."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    load = np.sin(2 * np.pi * t / 50) + 0.05 * rng.normal(size=points)
    current = 2 * load + 0.05 * rng.normal(size=points)
    label = np.zeros(points, int)
    (dip, n_dip), (spike, n_spike), (shift, n_shift), (stuck, n_stuck) = FAULTS.values()
    load[dip : dip + n_dip] -= 3
    load[spike : spike + n_spike] += 3
    current[shift : shift + n_shift] += 2.5
    load[stuck : stuck + n_stuck] = load[stuck]
    for first, n in FAULTS.values():
        label[first : first + n] = 1
    stamps = pd.date_range("2026-03-01", periods=points, freq="s").strftime("%Y-%m-%dT%H:%M:%S")
    return pd.DataFrame(
        {
            "time": stamps if time == "iso" else t,
            "load": load.round(5),
            "current": current.round(5),
            "is_anomaly": label,
        }
    )
