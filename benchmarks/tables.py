"""Tables as users' files come: the example card-transaction table (``examples/make_transactions.py``:
an id, a timestamp, two text categories, an amount with gaps, V1..V10, 2 % frauds).

- With only ``dataset.path`` and ``dataset.label`` set (roles, categories, gaps decided from the data)
  against the numeric columns listed by hand, for the autoencoder and the classic detectors, seeds 0-2
  (``seed=`` trains; the splits stay ``dataset.split_seed=0``).
- The same table without its label (the frauds left among the training rows): how many of a new
  file's frauds the detector flags with ``anomaly.contamination=0.02``, with and without ``anomaly.trim``.

Run: ``.venv/bin/python -m benchmarks.tables`` (about five minutes on two cores); writes a JSON
record under ``benchmarks/results/`` and its page ``docs/results/tables.md``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from benchmarks import report
from pipelines.baseline import baseline
from pipelines.hydra_glue import PROJECT_ROOT, compose_config
from pipelines.train import train

sys.path.insert(0, str(PROJECT_ROOT / "examples"))
from make_transactions import transactions  # noqa: E402 - the example script, not a package

SEEDS = (0, 1, 2)
BY_HAND = "dataset.features=[amount,V1,V2,V3,V4,V5,V6,V7,V8,V9,V10]"
METHODS = {"autoencoder": None, "kNN": "knn", "IsolationForest": "iforest"}  # None: the train stage


def fit(store: Path, method: str | None, overrides: list[str]) -> tuple[str, dict[str, float]]:
    """One train (``method`` None) or baseline run in ``store``: its id and metrics."""
    name = f"bench-{time.monotonic_ns()}"
    tracking = [f"tracking.uri=sqlite:///{store}/mlflow.db", f"tracking.artifact_root={store}/artifacts"]
    stage = [*tracking, f"run_name={name}", *overrides]
    if method is None:
        metrics = train(compose_config("train", stage))
    else:
        metrics = baseline(compose_config("baseline", [*stage, f"method={method}"]))
    client = MlflowClient(f"sqlite:///{store}/mlflow.db")
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    (run,) = client.search_runs(experiments, f"tags.mlflow.runName = '{name}'")
    return run.info.run_id, metrics


def main() -> None:
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tables-bench-") as folder:
        store = Path(folder)
        path = store / "transactions.csv"
        transactions().to_csv(path, index=False)
        data = ["dataset=table", f"dataset.path={path}", "dataset.label=is_fraud"]
        for name, method in METHODS.items():
            for columns, extra in (("decided from the data", []), ("numbers listed by hand", [BY_HAND])):
                auroc = {
                    str(seed): fit(store, method, [*data, *extra, f"seed={seed}"])[1]["test/auroc"]
                    for seed in SEEDS
                }
                table = f"transactions, {columns}"
                rows.append(
                    {"table": table, "method": name, "auroc": auroc, "mean": np.mean([*auroc.values()])}
                )
                print(rows[-1], flush=True)
        unlabelled = flagged_without_labels(store)
    record(rows, unlabelled, time.perf_counter() - started)


def flagged_without_labels(store: Path) -> list[str]:
    """The table without its label, its frauds left among the training rows; a new file (another
    draw of the same table) scored by each detector: how many of its frauds it flags."""
    import mlflow.pyfunc

    from autoencoders.tracking.models import fluent_store

    path = store / "unlabelled.csv"
    transactions().drop(columns="is_fraud").to_csv(path, index=False)
    new = transactions(seed=1)
    frauds = new.pop("is_fraud").to_numpy() == 1
    lines = []
    for name, method in METHODS.items():
        said = []
        for trim in ("false", "true"):
            overrides = ["dataset=table", f"dataset.path={path}", "anomaly.contamination=0.02"]
            run_id, _ = fit(store, method, [*overrides, f"anomaly.trim={trim}"])
            with fluent_store(f"sqlite:///{store}/mlflow.db"):
                model = mlflow.pyfunc.load_model(f"runs:/{run_id}/anomaly_detector")
            detector = model.unwrap_python_model().detector
            flagged = model.predict(detector.checked(new[detector.spec.columns]))["is_anomaly"].to_numpy()
            said.append(
                f"{'with' if trim == 'true' else 'without'} anomaly.trim {flagged[frauds].sum()} of "
                f"{frauds.sum()} frauds flagged, {flagged[~frauds].sum()} of {(~frauds).sum()} normal rows"
            )
        lines.append(f"{name}, anomaly.contamination=0.02: " + "; ".join(said))
        print(lines[-1], flush=True)
    return lines


def record(rows: list[dict], unlabelled: list[str], seconds: float) -> None:
    content = {
        "benchmark": "tables as they come: test/auroc, and frauds flagged without labels",
        "seconds": round(seconds, 1),
        "rows": rows,
        "unlabelled": unlabelled,
    }
    report.save_record("tables", content)


if __name__ == "__main__":
    main()
