"""One-class MNIST benchmark: the conv autoencoder trained on each digit in turn (a Hydra multirun),
against the classic detectors (PCA with as many components, kNN, IsolationForest) fitted on the very
same bundled split and ranked by the same evaluation.

Run: ``.venv/bin/python -m benchmarks.one_class [extra train overrides]``; prints a Markdown table with
the mean and each method's wins against the autoencoder, and writes it as JSON under
``benchmarks/results/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from autoencoders.baselines.iforest import IsolationForestDetector
from autoencoders.baselines.knn import KNNDetector
from autoencoders.baselines.pca import PCADetector
from autoencoders.evaluation.metrics import evaluate
from benchmarks import report
from pipelines.hydra_glue import PROJECT_ROOT, build, compose_config

DIGITS = range(10)
SWEEP = ["model=conv", "dataset.source=bundled"]
RESULTS = PROJECT_ROOT / "benchmarks" / "results"


def run_sweep(run_name: str, overrides: list[str]) -> None:
    digits = ",".join(f"[{d}]" for d in DIGITS)
    command = [
        sys.executable,
        "-m",
        "pipelines.train",
        "-m",
        *SWEEP,
        f"dataset.normal_digits={digits}",
        f"run_name={run_name}",
        *overrides,
    ]
    subprocess.run(command, cwd=PROJECT_ROOT, check=False)  # a failed job shows as a missing row


def baselines(code_dim: int, digit: int, overrides: list[str]) -> dict[str, float]:
    """Each classic detector's test AUROC on the very split the sweep's job for ``digit`` used."""
    cfg = compose_config("train", [*SWEEP, *overrides, f"dataset.normal_digits=[{digit}]"])
    splits = build(cfg.dataset).splits
    detectors = {
        f"PCA-{code_dim}": PCADetector(code_dim),
        "kNN (k=5)": KNNDetector(5, None),
        "IsolationForest": IsolationForestDetector(200, 0),
    }
    return {
        name: evaluate(detector.fit(splits.train), splits, 0.99, 0.0).metrics["test/auroc"]
        for name, detector in detectors.items()
    }


def main() -> None:
    run(sys.argv[1:])


def run(overrides: list[str]) -> dict:
    """Train, fit the baselines, print the table and record it; returns the JSON record."""
    run_name = f"one-class-{time.strftime('%Y%m%d-%H%M%S')}"
    started = time.perf_counter()
    run_sweep(run_name, overrides)
    elapsed = time.perf_counter() - started
    cfg = compose_config("train", [*SWEEP, *overrides])
    client = MlflowClient(cfg.tracking.uri)
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([experiment.experiment_id], f"attributes.run_name = '{run_name}'")
    by_digit = {OmegaConf.create(r.data.params["dataset.normal_digits"])[0]: r for r in runs}
    code_dim = int(cfg.model.code_dim)
    score = cfg.anomaly.score
    table: dict[str, dict[int, float]] = {f"conv ({score})": {}}
    used: dict[int, str] = {}  # the score each run used (anomaly.score=auto chooses per run)
    for digit in DIGITS:
        metrics = by_digit[digit].data.metrics if digit in by_digit else {}
        if "test/auroc" not in metrics:
            continue
        table[f"conv ({score})"][digit] = metrics["test/auroc"]
        used[digit] = by_digit[digit].data.tags.get("anomaly.score", score)
        for name, auroc in baselines(code_dim, digit, overrides).items():
            table.setdefault(name, {})[digit] = auroc
    print(f"\n{len(runs)} runs named {run_name}, {elapsed:.0f} s; overrides: {overrides or 'none'}\n")
    return record(table, used, run_name, overrides, elapsed)


def record(
    table: dict[str, dict[int, float]],
    used: dict[int, str],
    run_name: str,
    overrides: list[str],
    seconds: float,
) -> dict:
    """The table as JSON, with what produced it and the score each autoencoder run used."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{run_name}.json"
    content = {
        "benchmark": "one-class MNIST (bundled digits), test/auroc per normal digit",
        **report.provenance(),
        "overrides": overrides,
        "seconds": round(seconds, 1),
        "scores_used": {str(digit): name for digit, name in used.items()},
        "rows": [
            {
                "method": name,
                "auroc": {str(d): v for d, v in by_digit.items()},
                "mean": float(np.mean(list(by_digit.values()))),
            }
            for name, by_digit in table.items()
        ],
    }
    path.write_text(json.dumps(content, indent=1))
    page = report.write_page(path)
    print(page.read_text())
    print(f"wrote {path.relative_to(PROJECT_ROOT)} and {page.relative_to(PROJECT_ROOT)}")
    return content


if __name__ == "__main__":
    main()
