"""Write a machine's sensor log to try time series on, as such logs come:
``python examples/make_machine.py [path] [seed]``.

20,000 points a second apart: ``timestamp`` (ISO text), five correlated channels driven by one load
cycle (``load``, ``current`` follows the load, ``temperature`` lags it, ``vibration`` oscillates at a
speed the load sets, ``pressure`` drifts slowly), noise on each, and ``is_anomaly`` (1 inside a planted
fault). The first half is normal; the second holds one fault of each kind a failing machine shows: a
spike, a level shift, a stuck sensor, a change of vibration frequency, and a current that stops
following the load (a broken correlation between two channels). The faults, one row each (start, end,
kind, channel), go to ``<path stem>.faults.csv`` beside the log. Another seed draws another day of
the same machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

#: Planted faults: kind, channel, where (a share of the series) and how long (points).
FAULTS = [
    ("spike", "temperature", 0.56, 5),
    ("level shift", "pressure", 0.64, 200),
    ("stuck sensor", "temperature", 0.72, 300),
    ("frequency change", "vibration", 0.80, 400),
    ("broken correlation", "current", 0.90, 300),
]


def machine(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The log and its faults (start and end as point indices, end excluded)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi)
    load = 0.6 + 0.3 * np.sin(2 * np.pi * t / 600 + phase) + 0.05 * np.sin(2 * np.pi * t / 97)
    speed = 2 * np.pi * (0.05 + 0.04 * load)  # the vibration's angular frequency per point
    channels = {
        "load": load + 0.01 * rng.normal(size=n),
        "current": 10 * load + 0.15 * rng.normal(size=n),
        "temperature": 40 + 15 * np.convolve(load, np.ones(60) / 60, mode="same") + 0.2 * rng.normal(size=n),
        "vibration": np.sin(np.cumsum(speed)) * (0.5 + load) + 0.05 * rng.normal(size=n),
        "pressure": 5 + 0.3 * np.sin(2 * np.pi * t / 5000 + phase) + 0.03 * rng.normal(size=n),
    }
    is_anomaly = np.zeros(n, dtype=int)
    faults = []
    for kind, channel, where, length in FAULTS:
        start = int(where * n)
        end, part = start + length, slice(start, start + length)
        values = channels[channel]
        if kind == "spike":
            values[part] += 8 * values.std()
        elif kind == "level shift":
            values[part] += 3 * values[: n // 2].std()
        elif kind == "stuck sensor":
            values[part] = values[start]
        elif kind == "frequency change":
            faster = np.sin(np.cumsum(2.5 * speed[part])) * (0.5 + load[part])
            values[part] = faster + 0.05 * rng.normal(size=length)
        elif kind == "broken correlation":
            values[part] = 10 * (1.2 - load[part]) + 0.15 * rng.normal(size=length)  # its range, not its load
        is_anomaly[part] = 1
        faults.append({"start": start, "end": end, "kind": kind, "channel": channel})
    stamps = pd.Timestamp("2026-01-05 06:00:00") + pd.to_timedelta(t, unit="s")
    log = pd.DataFrame(
        {"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%S"), **channels, "is_anomaly": is_anomaly}
    )
    return log, pd.DataFrame(faults)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "machine.csv")
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    log, faults = machine(seed=seed)
    log.to_csv(path, index=False, float_format="%.5g")
    faults_path = path.with_name(f"{path.stem}.faults.csv")
    faults.to_csv(faults_path, index=False)
    print(f"wrote {path} ({len(log)} points, {log['is_anomaly'].sum()} anomalous) and {faults_path}")


if __name__ == "__main__":
    main()
