"""Every score ``anomaly.score=auto`` chooses among, on every table of the quality panel: what each
would give on the test split as a fixed default, and what ``auto``'s choice on validation gives,
against the best classic detector of each task.

One training per table and seed (``pipelines.train`` with nothing but the data chosen, seeds 0-2;
the splits stay ``dataset.split_seed=0``): every candidate is fitted and scored on that network, so
that candidates differ only in their score. The classic detectors (``pipelines.baseline``, default
settings, once each; IsolationForest with seed 0) give each task's best classic AUROC.

Run: ``.venv/bin/python -m benchmarks.candidates`` (about ten minutes on two cores): a JSON record
under ``benchmarks/results/`` and its page ``docs/results/candidates.md``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from autoencoders import stages
from autoencoders.anomaly import scores
from autoencoders.anomaly.autoencoder import AutoencoderDetector
from autoencoders.data.base import InMemoryDataModule
from autoencoders.data.splits import Splits
from benchmarks import report
from benchmarks.quality import MODELS, SEEDS, table_tasks
from benchmarks.tables import fit


@contextmanager
def captured_detectors() -> Iterator[list[tuple[AutoencoderDetector, InMemoryDataModule]]]:
    """Each trained detector and its datamodule, as the train stage builds them."""
    built = []
    original = stages.autoencoder_detector

    def capturing(module, datamodule, settings):  # noqa: ANN001, ANN202 - the stage's own signature
        detector = original(module, datamodule, settings)
        built.append((detector, datamodule))
        return detector

    stages.autoencoder_detector = capturing
    try:
        yield built
    finally:
        stages.autoencoder_detector = original


def candidate_aurocs(detector: AutoencoderDetector, datamodule: InMemoryDataModule) -> dict[str, dict]:
    """Per candidate of ``auto``: its validation AUROC and margin (what ``auto`` ranks by) and its
    test AUROC, each part fitted once on the run's training samples as ``auto`` fits them."""
    splits = datamodule.splits
    every_part = scores.fit_parts(
        scores.ScoreSpec(scores.EVERY_PART),
        detector.codec,
        Splits(splits.train, splits.val, splits.train[:0], np.zeros(0, bool)),
        datamodule.feature_columns,
    )
    parts = {
        name: scores.part_scores(every_part, detector.codec, x)
        for name, x in (
            ("val", splits.val),
            ("val anomalies", splits.val_anomalies),
            ("test", splits.test[~splits.test_is_anomaly]),
            ("test anomalies", splits.test[splits.test_is_anomaly]),
        )
    }
    spread = scores.part_spreads(parts["val"])
    found = {}
    for name in scores.CANDIDATES:
        summed = {
            key: scores.summed_scores(by_part, name.split("+"), spread) for key, by_part in parts.items()
        }
        found[name] = {
            "val/auroc": scores.separation_auroc(summed["val"], summed["val anomalies"]),
            "val/margin": scores.separation_margin(summed["val"], summed["val anomalies"]),
            "test/auroc": scores.separation_auroc(summed["test"], summed["test anomalies"]),
        }
    return found


def main() -> None:
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="candidates-bench-") as folder:
        store = Path(folder)
        for task, data in table_tasks(store, quick=False).items():
            classic = {
                name: fit(store, method, [*data, "seed=0"])[1]["test/auroc"]
                for name, method in MODELS.items()
                if method is not None
            }
            seeds = {}
            for seed in SEEDS:
                with captured_detectors() as built:
                    _, metrics = fit(store, None, [*data, f"seed={seed}"])
                ((detector, datamodule),) = built
                seeds[str(seed)] = {
                    "auto": detector.score_.name,
                    "auto test/auroc": metrics["test/auroc"],
                    "candidates": candidate_aurocs(detector, datamodule),
                }
            rows.append({"task": task, "classic": classic, "seeds": seeds})
            picks = [found["auto"] for found in seeds.values()]
            print(task, picks, {name: round(value, 4) for name, value in classic.items()}, flush=True)
    content = {
        "benchmark": "every candidate of anomaly.score=auto on the panel's tables, one network per run",
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    report.save_record("candidates", content)


if __name__ == "__main__":
    main()
