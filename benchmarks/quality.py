"""The quality panel: every model on identical splits of data nobody tuned for, default settings.

Tasks (each one-class: one class normal, the others anomalies):
- tables: scikit-learn's wine (each class normal in turn, the other classes subsampled to 10 % of
  their rows), scikit-learn's 8x8 digits as a 64-column table (each digit normal in turn, the others
  subsampled to 10 %), the example transactions (``examples/make_transactions.py``, 2 % frauds);
- images: the bundled MNIST digits (``dataset=mnist dataset.source=bundled``, each digit normal),
  scikit-image's ``lfw_subset`` as an image folder (its 100 faces normal, its 100 non-faces the
  anomalies; ``make bench-quality`` installs scikit-image, which the project does not need);
- series: KDD-TSAD #135 and the synthetic machine (``benchmarks/series.py``'s settings).

Models: the default autoencoder (``pipelines.train`` with nothing but the data chosen), PCA, kNN,
IsolationForest, LOF and ECOD (``pipelines.baseline``). Seeds 0-2 for the autoencoder and
IsolationForest (``seed=``: the splits stay ``dataset.split_seed=0``); the others are deterministic
and run once. Ranked by ``test/auroc``; ``val/auroc`` is recorded too (what a user can rank by).

Run: ``make bench-quality`` (``.venv/bin/python -m benchmarks.quality [--quick]``): a JSON record under
``benchmarks/results/`` and its page ``docs/results/quality.md``. ``--quick``: one task of each kind,
seed 0 only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import report
from benchmarks.series import series_settings
from benchmarks.tables import fit
from pipelines.hydra_glue import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "examples"))
from make_transactions import transactions  # noqa: E402 - the example script, not a package

SEEDS = (0, 1, 2)
MODELS = {  # name: the baseline method, or None for the train stage
    "autoencoder": None,
    "PCA": "pca",
    "kNN": "knn",
    "IsolationForest": "iforest",
    "LOF": "lof",
    "ECOD": "ecod",
}
RANDOMISED = {None, "iforest"}
METRICS = ("test/auroc", "val/auroc", "test/vus_pr")


def one_class_table(frame: pd.DataFrame, target: pd.Series, normal: object, share: float) -> pd.DataFrame:
    """The rows of class ``normal`` and ``share`` of every other class's rows (seeded), labelled
    ``is_anomaly``: ADBench's one-class protocol on a labelled table."""
    rng = np.random.default_rng(0)
    others = np.flatnonzero((target != normal).to_numpy())
    kept = np.sort(
        np.r_[
            np.flatnonzero((target == normal).to_numpy()),
            rng.permutation(others)[: round(share * len(others))],
        ]
    )
    return frame.iloc[kept].assign(is_anomaly=(target.iloc[kept] != normal).astype(int).to_numpy())


def table_tasks(store: Path, quick: bool) -> dict[str, list[str]]:
    """Each table task's overrides, its file written into ``store``."""
    from sklearn.datasets import load_digits, load_wine

    tasks = {}
    for source, loader, classes in (("wine", load_wine, (0, 1, 2)), ("digits", load_digits, range(10))):
        data = loader(as_frame=True)
        for normal in classes[:1] if quick else classes:
            path = store / f"{source}-{normal}.csv"
            one_class_table(data.data, data.target, normal, 0.1).to_csv(path, index=False)
            tasks[f"{source}, {normal} normal"] = [
                "dataset=table",
                f"dataset.path={path}",
                "dataset.label=is_anomaly",
            ]
    path = store / "transactions.csv"
    transactions().to_csv(path, index=False)
    tasks["transactions"] = ["dataset=table", f"dataset.path={path}", "dataset.label=is_fraud"]
    return tasks


def image_tasks(store: Path, quick: bool) -> dict[str, list[str]]:
    """The one-class MNIST digits, and the faces folder written into ``store``."""
    digits = (0,) if quick else range(10)
    tasks = {
        f"MNIST, {d} normal": ["dataset=mnist", "dataset.source=bundled", f"dataset.normal_digits=[{d}]"]
        for d in digits
    }
    if not quick:
        tasks["faces (lfw_subset)"] = [
            "dataset=image_folder",
            f"dataset.root={faces_folder(store / 'faces')}",
        ]
    return tasks


def faces_folder(root: Path) -> Path:
    """scikit-image's ``lfw_subset`` (25 x 25 grey; the first 100 faces, the last 100 not) as an
    anomalib-style folder: ``normal/`` the faces, ``abnormal/`` the rest, one PNG each."""
    from PIL import Image
    from skimage.data import lfw_subset

    images = np.round(lfw_subset() * 255).astype(np.uint8)
    for index, image in enumerate(images):
        folder = root / ("normal" if index < 100 else "abnormal")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    return root


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="quality-bench-") as folder:
        store = Path(folder)
        series = series_settings(store)
        tasks = {
            **{name: ("table", data) for name, data in table_tasks(store, quick).items()},
            **{name: ("images", data) for name, data in image_tasks(store, quick).items()},
            **{name: ("series", data) for name, data in series.items() if not quick or "KDD" in name},
        }
        for task, (kind, data) in tasks.items():
            for name, method in MODELS.items():
                seeds = (SEEDS[:1] if quick else SEEDS) if method in RANDOMISED else SEEDS[:1]
                found = {}
                for seed in seeds:
                    _, metrics = fit(store, method, [*data, f"seed={seed}"])
                    found[str(seed)] = {key: metrics[key] for key in METRICS if key in metrics}
                rows.append({"task": task, "kind": kind, "model": name, "seeds": found})
                print(
                    task, name, {seed: values.get("test/auroc") for seed, values in found.items()}, flush=True
                )
    content = {
        "benchmark": "quality panel: every model on the same one-class splits, default settings",
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    report.save_record("quality-quick" if quick else "quality", content)


if __name__ == "__main__":
    main()
