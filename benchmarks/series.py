"""Series: every model on the same windows of two sensor logs, default settings, seeds 0-2.

- KDD-TSAD #135 (``dataset=kdd_tsad_135``: aeon's bundled UCR series, 1,200 normal training points,
  7,501 test points with one 12-point anomaly): does the top-scored interval overlap the anomaly?
- The synthetic machine (``examples/make_machine.py``: five channels, one fault of each kind in the
  second half; ``dataset.val_fraction=0.1 dataset.test_fraction=0.45`` puts all five in the test
  part): which fault kinds does an interval flagged at the threshold overlap?

Models: the dense autoencoder (``pipelines.train``), the 1-D convolutional one (``model=conv1d``), and
PCA, kNN and IsolationForest (``pipelines.baseline``) on the same windows. Metrics: VUS-PR and the
range-based F1 (aeon), point-wise AUROC, interval recall and precision at the threshold.

Run: ``.venv/bin/python -m benchmarks.series`` (about ten minutes on two cores); writes a JSON
record under ``benchmarks/results/`` and its page ``docs/results/series.md``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from autoencoders.evaluation.records import OUTPUTS_PATH
from autoencoders.evaluation.series import intervals
from autoencoders.tracking import runs
from benchmarks import report
from benchmarks.tables import fit
from pipelines.hydra_glue import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "examples"))
from make_machine import FAULTS, machine  # noqa: E402 - the example script, not a package

SEEDS = (0, 1, 2)
MODELS = {  # name: (the baseline method, or None for the train stage; overrides)
    "dense autoencoder": (None, []),
    "dense autoencoder, point_score=window": (None, ["anomaly.point_score=window"]),
    "conv1d autoencoder": (None, ["model=conv1d"]),
    "PCA": ("pca", []),
    "kNN": ("knn", []),
    "IsolationForest": ("iforest", []),
}
MACHINE_SPLIT = ["dataset.val_fraction=0.1", "dataset.test_fraction=0.45"]
METRICS = ("test/vus_pr", "test/auroc", "test/range_f1", "test/interval_recall", "test/interval_precision")


def series_settings(store: Path) -> dict[str, list[str]]:
    """Each benchmark series: the overrides that select it (the machine written into ``store``)."""
    path = store / "machine.csv"
    machine()[0].to_csv(path, index=False)
    return {
        "KDD-TSAD #135": ["dataset=kdd_tsad_135"],
        "synthetic machine": [
            "dataset=series",
            f"dataset.path={path}",
            "dataset.label=is_anomaly",
            *MACHINE_SPLIT,
        ],
    }


def found_anomalies(store: Path, run_id: str) -> tuple[list[bool], bool]:
    """From the run's logged point scores: per true anomaly interval of the test part, whether an
    interval flagged at the threshold overlaps it; and whether the top-scored flagged interval does."""
    arrays = runs.load_arrays(MlflowClient(f"sqlite:///{store}/mlflow.db"), run_id, OUTPUTS_PATH)
    labels, scores = arrays["is_anomaly"].astype(bool), arrays["scores"]
    true = intervals(labels)
    flagged = intervals(scores > float(arrays["threshold"]), scores)

    def overlaps(a, b) -> bool:  # noqa: ANN001 - two Intervals
        return a.start <= b.end and b.start <= a.end

    found = [any(overlaps(one, other) for other in flagged) for one in true]
    top = max(flagged, key=lambda item: item.peak, default=None)
    return found, top is not None and any(overlaps(top, one) for one in true)


def main() -> None:
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="series-bench-") as folder:
        store = Path(folder)
        for series, data in series_settings(store).items():
            for name, (method, extra) in MODELS.items():
                seeds = SEEDS if method in (None, "iforest") else SEEDS[:1]  # PCA, kNN: no randomness
                row = {"series": series, "model": name, "metrics": {}, "found": {}, "top_on_anomaly": {}}
                for seed in seeds:
                    run_id, metrics = fit(store, method, [*data, *extra, f"seed={seed}"])
                    row["metrics"][str(seed)] = {key: metrics.get(key, float("nan")) for key in METRICS}
                    row["found"][str(seed)], row["top_on_anomaly"][str(seed)] = found_anomalies(store, run_id)
                rows.append(row)
                print(json.dumps(row), flush=True)
    record(rows, time.perf_counter() - started)


def record(rows: list[dict], seconds: float) -> None:
    content = {
        "benchmark": "series: every model on the same windows, default settings",
        "seconds": round(seconds, 1),
        "commands": {
            "KDD-TSAD #135": "python -m pipelines.train dataset=kdd_tsad_135 [model=conv1d] | "
            "python -m pipelines.baseline dataset=kdd_tsad_135 method=pca|knn|iforest",
            "synthetic machine": "python examples/make_machine.py machine.csv; python -m pipelines.train "
            f"dataset=series dataset.path=machine.csv dataset.label=is_anomaly {' '.join(MACHINE_SPLIT)}",
        },
        "fault_kinds": {
            "synthetic machine": [kind for kind, *_ in sorted(FAULTS, key=lambda fault: fault[2])]
        },
        "rows": rows,
    }
    report.save_record("series", content)


if __name__ == "__main__":
    main()
