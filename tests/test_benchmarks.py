"""The benchmark code runs on tiny sizes and writes valid JSON with correct ratios (no timing is asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import report, suite
from benchmarks.suite import Row, rate_row, time_row
from helpers.built import dense_net


def test_ratios_are_ours_over_peer_in_time() -> None:
    assert time_row("x", 3.0, 2.0).ratio == 1.5
    assert rate_row("y", "rows/s", 1000.0, 4000.0).ratio == 4.0  # a quarter of the rate: 4x the time
    medians = suite.alternate(iter([1.0, 5.0, 3.0]).__next__, iter([2.0, 2.0, 9.0]).__next__, 3)
    assert medians == (3.0, 2.0)


def test_sides_are_timed_in_turn_in_an_order_reversed_every_other_round() -> None:
    calls: list[str] = []

    def side(name: str):
        return lambda: calls.append(name) or float(len(calls))  # the call's place, as its timing

    medians = suite.in_turn([side("a"), side("b"), side("c")], 3)
    assert "".join(calls) == "abccbaabc"
    assert medians == [6.0, 5.0, 4.0]  # a: 1, 6, 7; b: 2, 5, 8; c: 3, 4, 9


def within_rounding(ratio: float, numerator: float, denominator: float, half_unit: float) -> bool:
    """The ratio is the unrounded one, so it lies between the extremes the rounded figures allow."""
    low = (numerator - half_unit) / (denominator + half_unit)
    high = (numerator + half_unit) / (denominator - half_unit)
    return low - 5e-4 <= ratio <= high + 5e-4


def test_the_loop_rows_run_on_tiny_sizes() -> None:
    spiral = suite.spiral_loop(epochs=2, repeats=1)
    assert spiral.name == "spiral loop" and spiral.unit == "s"
    assert spiral.ours > 0 and spiral.peer > 0
    assert within_rounding(spiral.ratio, spiral.ours, spiral.peer, half_unit=5e-4)
    assert spiral.note.startswith("40 steps")  # 2 epochs of 20 full batches
    conv = suite.conv_loop(steps=2, repeats=1)
    assert conv.unit == "images/s" and within_rounding(conv.ratio, conv.peer, conv.ours, half_unit=0.05)


def test_a_commands_peak_memory_is_its_own_not_the_suites() -> None:
    """Linux carries a parent's resident size into a child's peak across fork and exec: the suite,
    holding 300 MB here, must not add them to the command it measures."""
    held = np.ones(300_000_000 // 8)  # touched: resident
    small = [sys.executable, "-c", "pass"]
    large = [sys.executable, "-c", "import numpy; x = numpy.ones(200_000_000 // 8)"]
    _, small_gb = suite.measured_process(small)
    _, large_gb = suite.measured_process(large)
    assert small_gb < 0.1 < 0.2 < large_gb < 0.3 and held.sum() > 0


def test_the_suite_writes_its_rows_and_environment_as_json(tmp_path, monkeypatch) -> None:
    rows = {
        "spiral_loop": Row("spiral loop", 2.0, 1.0, "s", 2.0),
        "conv_loop": Row("conv loop (MNIST)", 100.0, 110.0, "images/s", 1.1),
        "scoring": [
            Row("scoring (logged detector)", 5.0, 10.0, "rows/s", 2.0),
            Row("scoring (logged detector), over its network passes", 5.0, 6.0, "rows/s", 1.2),
        ],
        "scoring_cli": Row("scoring CLI (pipelines.score)", 5.0, 10.0, "rows/s", 2.0),
        "spiral_import_floor": Row("spiral end to end, the imports alone", 2.5, 2, "s", 1.25),
        "busy_machine": Row("busy machine", 12.0, 10.0, "s", 1.2),
    }
    for name, row in rows.items():
        monkeypatch.setattr(suite, name, lambda *args, row=row: row)
    growth = {"10,000 rows": {side: {"seconds": 3.0, "peak GB": 0.9} for side in ("ours", "peer")}}
    table_rows = [
        Row("table 100k rows end to end", 6.0, 5.0, "s", 1.2),
        Row("table 100k rows peak memory", 1.2, 1.0, "GB", 1.2),
    ]
    monkeypatch.setattr(suite, "large_tables", lambda *args: (table_rows, growth))
    streamed = [Row("table beyond memory, peak over the floor", 0.1, 0.2, "GB", 0.5)]
    monkeypatch.setattr(suite, "beyond_memory", lambda *args: streamed)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # no GPU rows, even on a GPU machine
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
        "spiral end to end, the imports alone",
        "spiral end to end, over the imports' floor",
        "scoring (logged detector)",
        "scoring (logged detector), over its network passes",
        "scoring CLI (pipelines.score)",
        "conv loop (MNIST)",
        "busy machine",
        "table 100k rows end to end",
        "table 100k rows peak memory",
        "table beyond memory, peak over the floor",
    ]
    assert all(set(row) >= {"name", "ours", "peer", "unit", "ratio"} for row in written["rows"])
    assert written["spiral end to end breakdown (s)"] == breakdown
    assert written["table growth"] == growth
    (over,) = [row for row in written["rows"] if row["name"] == "spiral end to end, over the imports' floor"]
    assert (over["ours"], over["peer"], over["ratio"]) == (3, 2.5, 1.2)  # the run over the floor's own time
    assert "| 10,000 rows | 3.0 | 3.0 | 0.9 | 0.9 |" in report.bench_table(written)
    assert {"machine", "versions", "commit", "threads", "device"} <= set(written)
    page = (tmp_path / "bench-quick.md").read_text()  # the docs' result page, written from the record
    assert f"commit `{written['commit']}`" in page and "| spiral end to end | 3 | 2 | s | 1.5 |" in page


def test_the_plain_loop_trains_the_weights_the_pipeline_trains(tmp_path) -> None:
    """The yardstick does the same work: from the same initial network, the pipeline's fit (grouped
    steps, its callbacks) and the hand-written loop end on the same weights."""
    import copy

    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.loggers import CSVLogger

    from autoencoders.training.fit import training_callbacks
    from autoencoders.training.grouped_steps import group_steps
    from autoencoders.training.selection import Selection
    from benchmarks.throughput import plain_loop
    from pipelines.hydra_glue import build, compose_config

    cfg = compose_config("train", ["trainer.max_epochs=3"])
    datamodule = build(cfg.dataset)
    pl.seed_everything(0, verbose=False)
    module = build(cfg.model)
    net = copy.deepcopy(module.net)
    _, callbacks = training_callbacks(datamodule, tmp_path, 1, Selection("val/loss", "min"), False)
    trainer = build(cfg.trainer, callbacks=callbacks, logger=CSVLogger(tmp_path), enable_progress_bar=False)
    group_steps(module, datamodule, trainer, None)
    trainer.fit(module, datamodule=datamodule)
    data = datamodule._tensor("train")
    plain_loop(net, data, len(data), 60, cfg.model.optimizer.lr, 3, datamodule.steps_per_epoch)
    for name, value in net.state_dict().items():
        torch.testing.assert_close(value, module.net.state_dict()[name], rtol=1e-5, atol=1e-6)


def test_the_plain_scoring_script_scores_what_the_network_reconstructs(tmp_path, monkeypatch) -> None:
    import sys

    import numpy as np
    import pandas as pd
    import torch

    from benchmarks import plain_score

    torch.manual_seed(0)
    net = dense_net((2,), code_dim=1)  # the spiral's network, as a run saves it
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    points = np.random.default_rng(0).uniform(-3, 3, size=(50, 2))
    pd.DataFrame(points, columns=["x0", "x1"]).to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.setattr(
        sys, "argv", ["plain_score", *(str(tmp_path / n) for n in ("weights.pt", "in.csv", "out.csv"))]
    )
    plain_score.main()
    scored = pd.read_csv(tmp_path / "out.csv")
    x = torch.as_tensor(points, dtype=torch.float32)
    with torch.no_grad():
        expected = ((net(x) - x) ** 2).sum(1).numpy()
    np.testing.assert_allclose(scored["score"], expected, rtol=1e-5)


def test_the_quality_page_says_where_the_autoencoder_stands_against_the_best_classic_detector() -> None:
    def row(task: str, model: str, *aurocs: float) -> dict:
        return {
            "task": task,
            "model": model,
            "seeds": {str(i): {"test/auroc": v} for i, v in enumerate(aurocs)},
        }

    digits = [row(f"MNIST, {d} normal", model, 0.9) for d in range(10) for model in ("autoencoder", "kNN")]
    record = {"rows": [row("wine", "autoencoder", 0.8, 0.9), row("wine", "kNN", 0.95), *digits]}
    page = report.quality_table(record)
    assert "| wine | 0.8500 ± 0.0707 | **0.9500** |" in page  # the seeds' mean, spread and the best
    assert "| **wins** | 10 of 11 | 11 of 11 |" in page  # a tie is a win for both
    assert "largest gap below the best classic detector of a task: 0.1000 (wine)" in page
    assert "MNIST ten-digit mean (bundled digits, seeds averaged): 0.9000" in page


def test_the_scoring_row_reads_a_logged_detector_and_its_score(spiral_run) -> None:
    """The row on a real run's detector (the suite's other rows are replaced above): it finds the
    network's weights and the score the run used."""
    store = Path(spiral_run["uri"].removeprefix("sqlite:///")).parent
    row, over_passes = suite.scoring(store, 2_000, 1)
    assert row.name == "scoring (logged detector)" and row.ours > 0 and row.peer > 0
    score = spiral_run["run"].data.tags["anomaly.score"]
    assert f"the run's score ({score})" in row.note
    assert over_passes.name == "scoring (logged detector), over its network passes"
    assert over_passes.ours > 0 and over_passes.peer > 0 and f"its score ({score})" in over_passes.note


def test_each_candidates_validation_rank_is_what_auto_chose_by() -> None:
    """The candidates benchmark measures each candidate as ``auto`` does: the best of them by
    validation AUROC then margin is the score ``auto`` chose, and its test AUROC is the fitted
    detector's on the test split."""
    import numpy as np
    import torch

    from autoencoders.anomaly.autoencoder import AutoencoderDetector
    from autoencoders.anomaly.scores import CANDIDATES, separation_auroc
    from autoencoders.data.splits import Splits
    from benchmarks.candidates import candidate_aurocs
    from helpers.built import spiral_data

    torch.manual_seed(0)
    spiral = spiral_data(n_test=50, n_anomalies=60).splits
    anomalies = spiral.test[spiral.test_is_anomaly]
    test = np.concatenate([spiral.test[~spiral.test_is_anomaly], anomalies[30:]])
    is_anomaly = np.r_[np.zeros(len(test) - 30, bool), np.ones(30, bool)]
    splits = Splits(spiral.train, spiral.val, test, is_anomaly, val_anomalies=anomalies[:30])
    data = SimpleNamespace(splits=splits, feature_columns=None)  # what the benchmark reads of a datamodule
    detector = AutoencoderDetector(dense_net((2,), code_dim=1), "auto", "rapp")
    detector.fit(splits.train, splits.val, splits.val_anomalies)
    found = candidate_aurocs(detector, data)
    assert list(found) == list(CANDIDATES)
    best = max(CANDIDATES, key=lambda name: (found[name]["val/auroc"], found[name]["val/margin"]))
    assert best == detector.score_.name
    scored = detector.decision_function(splits.test)
    expected = separation_auroc(scored[~splits.test_is_anomaly], scored[splits.test_is_anomaly])
    assert found[best]["test/auroc"] == pytest.approx(expected, abs=1e-9)
    assert 0.5 < expected <= 1.0 and np.isfinite(found[best]["val/margin"])


def test_the_candidates_page_ranks_every_score_against_the_best_classic_detector() -> None:
    def seed(auto: str, auto_auroc: float, **candidates: float) -> dict:
        found = {name: {"test/auroc": value} for name, value in candidates.items()}
        return {"auto": auto, "auto test/auroc": auto_auroc, "candidates": found}

    record = {
        "rows": [
            {
                "task": "wine",
                "classic": {"kNN": 0.9, "ECOD": 0.95},
                "seeds": {"0": seed("rapp", 0.92, rapp=0.92, knn=0.99)},
            },
            {
                "task": "digits",
                "classic": {"kNN": 0.8},
                "seeds": {"0": seed("knn", 0.85, rapp=0.7, knn=0.85)},
            },
        ]
    }
    page = report.candidates_table(record)
    assert "| **auto** (chosen on validation) | 0.8850 | 1 of 2 | 0.0300 (wine) |" in page
    assert "| `rapp` | 0.8100 | 0 of 2 | 0.1000 (digits) |" in page
    assert "| `knn` | 0.9200 | 2 of 2 | -0.0400 (wine) |" in page
    assert "| wine | 0.9500 (ECOD) | 0.9200 | `rapp` |" in page


def test_a_record_names_its_commit_dirty_where_tracked_files_had_changed(tmp_path, monkeypatch) -> None:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(report, "PROJECT_ROOT", tmp_path)
    head = git("rev-parse", "--short", "HEAD").strip()
    (tmp_path / "notes.txt").write_text("untracked files do not count\n")
    assert report.git_commit() == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert report.git_commit() == f"{head}-dirty"
