"""The example data generators write what their docstrings say."""

from __future__ import annotations

import importlib.util

import numpy as np

from pipelines.hydra_glue import PROJECT_ROOT


def example(name: str):  # noqa: ANN201 - a module
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_machine_log_holds_one_fault_of_each_kind_after_a_normal_first_half() -> None:
    log, faults = example("make_machine").machine(n=4000, seed=1)
    assert list(faults["kind"]) == [
        "spike",
        "level shift",
        "stuck sensor",
        "frequency change",
        "broken correlation",
    ]
    assert log["is_anomaly"][:2000].sum() == 0
    assert log["is_anomaly"].sum() == sum(faults["end"] - faults["start"])
    stuck = faults.set_index("kind").loc["stuck sensor"]
    assert log["temperature"][stuck["start"] : stuck["end"]].nunique() == 1
    broken = faults.set_index("kind").loc["broken correlation"]
    inside = log[broken["start"] : broken["end"]]
    normal = log[:2000]
    assert np.corrcoef(normal["load"], normal["current"])[0, 1] > 0.95
    assert np.corrcoef(inside["load"], inside["current"])[0, 1] < -0.9  # the pattern breaks ...
    low, high = normal["current"].min(), normal["current"].max()  # ... not the range
    margin = 0.05 * (high - low)
    assert low - margin < inside["current"].min() < inside["current"].max() < high + margin
