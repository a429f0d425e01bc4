"""A sensor log end to end: train on its windows, the baselines on the same windows, the score per
time point and its intervals, the figures, the comparison, and the detector on new points."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from autoencoders.deploy.rest import scoring_app
from helpers.entry import run_main
from helpers.runs import artifact_paths, load_detector
from helpers.series import FAULTS, sensor_log
from helpers.server import asgi_post
from pipelines.baseline import baseline
from pipelines.compare import compare
from pipelines.train import train

SERIES_METRICS = {"test/auroc", "test/aupr", "test/vus_pr", "test/range_f1", "test/interval_precision"}


def test_a_sensor_log_trains_scores_each_point_flags_intervals_and_deploys(
    tmp_path, make_cfg, client, store, monkeypatch
) -> None:
    path = tmp_path / "machine.csv"
    sensor_log().to_csv(path, index=False)
    data = ["dataset=series", f"dataset.path={path}", "dataset.label=is_anomaly", "dataset.window=20"]
    metrics = train(make_cfg(*data, "trainer.max_epochs=10", "dataset.epoch_size=2000"))
    assert metrics.keys() >= SERIES_METRICS and metrics["test/auroc"] > 0.9  # chance: 0.5
    assert metrics["test/interval_recall"] == 1.0  # both test faults overlapped by a flagged interval
    (run,) = client.search_runs([client.get_experiment_by_name("machine").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["model.net.input_shape"] == "[2, 20]"
    assert (
        run.data.tags["anomaly.point_score"] == "error" and run.data.params["anomaly.point_score"] == "auto"
    )
    files = artifact_paths(client, run.info.run_id)
    assert {"series.png", "windows.png", "roc.png", "scores.png", "preprocessing/series.json"} <= files

    knn = baseline(make_cfg(*data, "method=knn", config_name="baseline"))
    assert knn.keys() >= SERIES_METRICS
    compare(make_cfg("experiments=[machine]", config_name="compare"))
    (compared,) = client.search_runs([run.info.experiment_id], "tags.stage = 'compare'")
    assert any(name.endswith("/series.png") for name in artifact_paths(client, compared.info.run_id))

    # A new day of the machine, in the training file's format, through the CLI and the pyfunc.
    new = tmp_path / "new.csv"
    sensor_log(seed=1).to_csv(new, index=False)
    output = tmp_path / "scored.csv"
    model_uri = f"runs:/{run.info.run_id}/anomaly_detector"
    args = [f"tracking.uri={store['uri']}", f"model_uri={model_uri}", f"input={new}", f"output={output}"]
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 0
    scored = pd.read_csv(output)
    assert len(scored) == 1800 and {"input_is_anomaly", "score", "is_anomaly", "error_load"} <= set(scored)
    detector = load_detector(store["uri"], model_uri)
    in_process = detector.predict(pd.read_csv(new)[["load", "current"]])
    np.testing.assert_allclose(scored["score"], in_process["score"], rtol=1e-6)
    found = pd.read_csv(tmp_path / "scored.intervals.csv")
    assert list(found.columns) == ["start", "end", "points", "peak_score", "peak_at"]
    top = found.loc[found["peak_score"].idxmax()]  # the top-scored interval lies on a planted fault
    day = pd.Timestamp("2026-03-01")
    start, end = pd.Timestamp(top["start"]) - day, pd.Timestamp(top["end"]) - day
    assert any(
        start <= pd.Timedelta(seconds=first + n) and pd.Timedelta(seconds=first) <= end
        for first, n in FAULTS.values()
    )
    # REST: MLflow's scoring app behind the project's guard (pipelines.serve), in this process.
    app = scoring_app(detector, max_rows=10_000)
    rows = pd.read_csv(new)[["load", "current"]]
    body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    status, answer = asgi_post(app, "/invocations", json.dumps(body).encode())
    assert status == 200
    np.testing.assert_allclose(pd.DataFrame(answer["predictions"])["score"], scored["score"], rtol=1e-6)
    status, answer = asgi_post(
        app,
        "/invocations",
        json.dumps(
            {"dataframe_split": {**body["dataframe_split"], "data": body["dataframe_split"]["data"][:10]}}
        ).encode(),
    )
    assert status == 400 and answer["message"].startswith("input has 10 points; the detector's windows")
    with pytest.raises(MlflowException, match="input has 10 points; the detector's windows take 20 "):
        detector.predict(pd.read_csv(new)[["load", "current"]].head(10))
