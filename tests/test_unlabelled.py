"""Tables without labels: anomalies among the training rows, the share the user expects of them
(anomaly.contamination) and a second fit without the top-scored share (anomaly.trim)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from autoencoders.errors import ConfigError
from helpers.runs import load_detector
from pipelines.baseline import baseline
from pipelines.train import train

COLUMNS = [f"V{i}" for i in range(4)]


def unlabelled(tmp_path: Path) -> list[str]:
    """1,000 normal rows and 20 planted anomalies (2 %), no label: the data overrides."""
    rng = np.random.default_rng(0)
    rows = np.vstack([rng.normal(size=(1000, 4)), rng.normal(size=(20, 4)) + 6.0])
    path = tmp_path / "unlabelled.csv"
    pd.DataFrame(rows, columns=COLUMNS).sample(frac=1, random_state=0).to_csv(path, index=False)
    return ["dataset=table", f"dataset.path={path}"]


def new_rows() -> pd.DataFrame:
    """A new file: 100 normal rows, then 10 anomalies like the planted ones."""
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        np.vstack([rng.normal(size=(100, 4)), rng.normal(size=(10, 4)) + 6.0]), columns=COLUMNS
    )


def scored_by_the_run(store: dict[str, str], **filters: str) -> tuple[pd.DataFrame, dict[str, str]]:
    client = MlflowClient(store["uri"])
    experiment = client.get_experiment_by_name("unlabelled").experiment_id
    (run,) = client.search_runs([experiment], " and ".join(f"tags.{k} = '{v}'" for k, v in filters.items()))
    assert run.info.status == "FINISHED"
    detector = load_detector(store["uri"], f"runs:/{run.info.run_id}/anomaly_detector")
    return detector.predict(new_rows()), run.data.tags


def test_with_contamination_the_threshold_expects_anomalies_in_unlabelled_training_rows(
    tmp_path, make_cfg, store
) -> None:
    """With anomaly.contamination=0.02 the threshold is the training rows' 98 % quantile: half the
    planted anomalies of a new file are flagged (the validation quantile, as unclean as the training
    rows, flagged 1 of 10). kNN still finds their neighbours among the planted training rows:
    anomaly.trim (below) flags them all."""
    data = [*unlabelled(tmp_path), "method=knn", "anomaly.contamination=0.02"]
    baseline(make_cfg(*data, config_name="baseline"))
    scored, tags = scored_by_the_run(store)
    flagged = scored["is_anomaly"].to_numpy()
    assert flagged[100:].sum() >= 5 and flagged[:100].sum() <= 10
    assert "dataset.trimmed_rows" not in tags


def test_trim_fits_again_without_the_top_scored_training_rows(tmp_path, make_cfg, store) -> None:
    """kNN finds the planted anomalies' neighbours among the planted training rows, so they score
    low; fitted again without the top 2 % of the training rows they lie far from every row left."""
    data = [*unlabelled(tmp_path), "method=knn", "anomaly.contamination=0.02"]
    baseline(make_cfg(*data, "run_name=kept", config_name="baseline"))
    baseline(make_cfg(*data, "anomaly.trim=true", "run_name=trimmed", config_name="baseline"))
    kept, _ = scored_by_the_run(store, **{"mlflow.runName": "kept"})
    trimmed, tags = scored_by_the_run(store, **{"mlflow.runName": "trimmed"})
    n_train = 1000 - 150 - 200 + 20  # the normal rows less validation and test, and the planted ones
    assert int(tags["dataset.trimmed_rows"]) == pytest.approx(0.02 * n_train, abs=1)
    assert trimmed["score"][100:].min() > 2 * kept["score"][100:].max()
    assert trimmed["is_anomaly"][100:].all() and trimmed["is_anomaly"][:100].sum() <= 10


def test_an_autoencoder_trims_after_a_first_training_and_records_one_run(tmp_path, make_cfg, store) -> None:
    data = [*unlabelled(tmp_path), "anomaly.contamination=0.02", "anomaly.trim=true"]
    train(make_cfg(*data, "trainer.max_epochs=3", "dataset.epoch_size=500"))
    scored, tags = scored_by_the_run(store)  # one run: the first training is recorded nowhere
    assert int(tags["dataset.trimmed_rows"]) == pytest.approx(0.02 * 670, abs=1)
    assert tags["anomaly.score"] == "scaled"  # auto without validation anomalies, as tables choose
    assert scored["is_anomaly"][100:].sum() >= 7


def test_trim_without_contamination_is_one_line(tmp_path, make_cfg) -> None:
    with pytest.raises(
        ConfigError, match=r"^anomaly.trim=true needs anomaly.contamination above 0: the share"
    ):
        train(make_cfg(*unlabelled(tmp_path), "anomaly.trim=true"))
