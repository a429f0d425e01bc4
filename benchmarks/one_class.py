"""One-class MNIST benchmark: the conv autoencoder trained on each digit in turn (a Hydra multirun),
against PCA with as many components, on the same bundled split.

Run: ``.venv/bin/python -m benchmarks.one_class [extra train overrides]``; prints a Markdown table.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from autoencoders.evaluation import evaluate
from autoencoders.pca import PCABaseline
from pipelines.common import PROJECT_ROOT, build, compose_config

DIGITS = range(10)
SWEEP = ["model=conv", "dataset.source=bundled"]


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


def pca_reference(code_dim: int, digit: int, overrides: list[str]) -> dict[str, float]:
    """PCA on the very split the sweep's job for ``digit`` trained on (same dataset overrides)."""
    cfg = compose_config("train", [*SWEEP, *overrides, f"dataset.normal_digits=[{digit}]"])
    splits = build(cfg.dataset).splits
    return evaluate(PCABaseline(code_dim).fit(splits.train), splits).metrics


def main() -> None:
    overrides = sys.argv[1:]
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
    print(f"\n{len(runs)} runs named {run_name}, {elapsed:.0f} s; overrides: {overrides or 'none'}\n")
    header = ["normal digit", "AE AUROC", f"PCA-{code_dim} AUROC", "AE test/mse", f"PCA-{code_dim} test/mse"]
    print("| " + " | ".join([*header, "mse ratio"]) + " |")
    print("| --- " * (len(header) + 1) + "|")
    rows = []
    for digit in DIGITS:
        if digit not in by_digit or "test/auroc" not in by_digit[digit].data.metrics:
            print(f"| {digit} | (job failed) | | | | |")
            continue
        ae = by_digit[digit].data.metrics
        pca = pca_reference(code_dim, digit, overrides)
        rows.append([ae["test/auroc"], pca["test/auroc"], ae["test/mse"], pca["test/mse"]])
        print(table_row(str(digit), rows[-1]))
    print(table_row("mean", list(np.mean(rows, axis=0))))


def table_row(label: str, values: list[float]) -> str:
    cells = [f"{value:.4f}" for value in values] + [f"{values[2] / values[3]:.2f}"]
    return "| " + " | ".join([label, *cells]) + " |"


if __name__ == "__main__":
    main()
