"""The benchmark code runs on tiny sizes and writes valid JSON with correct ratios (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from benchmarks import suite
from benchmarks.suite import Row, rate_row, time_row


def test_ratios_are_ours_over_peer_in_time() -> None:
    assert time_row("x", 3.0, 2.0).ratio == 1.5
    assert rate_row("y", "rows/s", 1000.0, 4000.0).ratio == 4.0  # a quarter of the rate: 4x the time
    medians = suite.alternate(iter([1.0, 5.0, 3.0]).__next__, iter([2.0, 2.0, 9.0]).__next__, 3)
    assert medians == (3.0, 2.0)


def test_the_loop_rows_run_on_tiny_sizes() -> None:
    spiral = suite.spiral_loop(epochs=2, repeats=1)
    assert spiral.name == "spiral loop" and spiral.unit == "s"
    assert (
        spiral.ours > 0
        and spiral.peer > 0
        and spiral.ratio == pytest.approx(spiral.ours / spiral.peer, rel=1e-2)
    )
    assert spiral.note.startswith("40 steps")  # 2 epochs of 20 full batches
    conv = suite.conv_loop(steps=2, repeats=1)
    assert conv.unit == "images/s" and conv.ratio == pytest.approx(conv.peer / conv.ours, rel=1e-2)


def test_the_suite_writes_its_rows_and_environment_as_json(tmp_path, monkeypatch) -> None:
    rows = {
        "spiral_loop": Row("spiral loop", 2.0, 1.0, "s", 2.0),
        "conv_loop": Row("conv loop (MNIST)", 100.0, 110.0, "images/s", 1.1),
        "scoring": Row("scoring (logged detector)", 5.0, 10.0, "rows/s", 2.0),
    }
    for name, row in rows.items():
        monkeypatch.setattr(suite, name, lambda *args, row=row: row)
    breakdown = {"imports": 1.0, "fit": 2.0}
    monkeypatch.setattr(
        suite, "spiral_end_to_end", lambda *args: (Row("spiral end to end", 3, 2, "s", 1.5), breakdown)
    )
    record = suite.run_suite(quick=True, out=tmp_path)
    written = json.loads(next(tmp_path.glob("bench-quick-*.json")).read_text())
    assert written == json.loads(json.dumps(record))
    assert [row["name"] for row in written["rows"]] == [
        "spiral loop",
        "spiral end to end",
        "scoring (logged detector)",
        "conv loop (MNIST)",
    ]
    assert all(set(row) >= {"name", "ours", "peer", "unit", "ratio"} for row in written["rows"])
    assert written["spiral end to end breakdown (s)"] == breakdown
    assert {"machine", "versions", "commit", "threads", "device"} <= set(written)
