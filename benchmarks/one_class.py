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
from sklearn.metrics import precision_recall_curve

from autoencoders.baselines.iforest import IsolationForestDetector
from autoencoders.baselines.knn import KNNDetector
from autoencoders.baselines.pca import PCADetector
from autoencoders.evaluation.metrics import evaluate
from autoencoders.evaluation.records import OUTPUTS_PATH, RunOutputs
from autoencoders.tracking.runs import load_arrays
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


def best_f1(is_anomaly: np.ndarray, scores: np.ndarray) -> float:
    """The best F1 any threshold reaches on these test scores: what the logged threshold is held to."""
    precision, recall, _ = precision_recall_curve(is_anomaly, scores)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=precision + recall > 0
    )
    return float(f1.max())


def baselines(code_dim: int, digit: int, overrides: list[str]) -> dict[str, dict[str, float]]:
    """Each classic detector on the very split the sweep's job for ``digit`` used: its test AUROC,
    its F1 at the threshold the evaluation chose on validation, the best F1 on the test scores."""
    cfg = compose_config("train", [*SWEEP, *overrides, f"dataset.normal_digits=[{digit}]"])
    splits = build(cfg.dataset).splits
    detectors = {
        f"PCA-{code_dim}": PCADetector(code_dim),
        "kNN (k=5)": KNNDetector(5, None),
        "IsolationForest": IsolationForestDetector(200, 0),
    }
    found = {}
    for name, detector in detectors.items():
        evaluation = evaluate(detector.fit(splits.train), splits, 0.99, 0.0, cfg.anomaly.threshold)
        found[name] = {
            "auroc": evaluation.metrics["test/auroc"],
            "f1": evaluation.metrics["test/f1"],
            "best_f1": best_f1(splits.test_is_anomaly, evaluation.test_scores),
        }
    return found


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
    conv = f"conv ({score})"
    table: dict[str, dict[int, dict[str, float]]] = {conv: {}}
    used: dict[int, str] = {}  # the score each run used (anomaly.score=auto chooses per run)
    for digit in DIGITS:
        run = by_digit.get(digit)
        if run is None or "test/auroc" not in run.data.metrics:
            continue
        outputs = RunOutputs.from_arrays(load_arrays(client, run.info.run_id, OUTPUTS_PATH))
        table[conv][digit] = {
            "auroc": run.data.metrics["test/auroc"],
            "f1": run.data.metrics["test/f1"],
            "best_f1": best_f1(outputs.is_anomaly, outputs.scores),
        }
        used[digit] = run.data.tags.get("anomaly.score", score)
        for name, found in baselines(code_dim, digit, overrides).items():
            table.setdefault(name, {})[digit] = found
    print(f"\n{len(runs)} runs named {run_name}, {elapsed:.0f} s; overrides: {overrides or 'none'}\n")
    return record(table, used, run_name, overrides, elapsed)


def record(
    table: dict[str, dict[int, dict[str, float]]],
    used: dict[int, str],
    run_name: str,
    overrides: list[str],
    seconds: float,
) -> dict:
    """The table as JSON, with what produced it and the score each autoencoder run used."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{run_name}.json"
    content = {
        "benchmark": "one-class MNIST (bundled digits) per digit: test/auroc, F1 at the threshold, best F1",
        **report.provenance(),
        "overrides": overrides,
        "seconds": round(seconds, 1),
        "scores_used": {str(digit): name for digit, name in used.items()},
        "rows": [
            {
                "method": name,
                **{key: {str(d): v[key] for d, v in by_digit.items()} for key in ("auroc", "f1", "best_f1")},
                "mean": float(np.mean([v["auroc"] for v in by_digit.values()])),
                # F1 at the threshold chosen on validation, as a share of the best F1 on the test set
                "f1_share_mean": float(np.mean([v["f1"] / v["best_f1"] for v in by_digit.values()])),
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
