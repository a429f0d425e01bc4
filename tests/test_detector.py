"""The deployable detector: scoring files from the command line, the Model Registry, REST serving."""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from autoencoders.baselines.pca import PCADetector
from autoencoders.data import streaming
from helpers.built import spiral_data, table_data
from helpers.entry import run_main
from helpers.runs import load_detector
from helpers.server import SERVED_MAX_ROWS
from helpers.tables import transactions
from pipelines.pca_baseline import pca_baseline


@pytest.fixture
def points(tmp_path: Path) -> Path:
    """New data for the spiral's detector: its test points, with an id column to carry along."""
    splits = spiral_data().splits
    frame = pd.DataFrame(splits.test, columns=["x0", "x1"]).assign(id=np.arange(len(splits.test)) * 7)
    path = tmp_path / "points.csv"
    frame.to_csv(path, index=False)
    return path


def score_command(uri: str, model: str, source: Path, output: Path, *extra: str) -> list[str]:
    return [f"tracking.uri={uri}", f"model_uri={model}", f"input={source}", f"output={output}", *extra]


def test_a_file_is_scored_whole_in_its_row_order(spiral_run, points, tmp_path, capsys, monkeypatch) -> None:
    model = f"runs:/{spiral_run['run'].info.run_id}/anomaly_detector"
    output = tmp_path / "scored.parquet"
    args = score_command(spiral_run["uri"], model, points, output, "keep=[id]", "batch_size=300")
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 0
    assert "scored 1000 rows in" in capsys.readouterr().out
    scored, given = pd.read_parquet(output), pd.read_csv(points)
    assert list(scored.columns) == ["x0", "x1", "id", "score", "is_anomaly", "code_0"]
    pd.testing.assert_frame_equal(scored[["x0", "x1", "id"]], given)  # the input's rows, in order
    expected = load_detector(spiral_run["uri"], model).predict(given[["x0", "x1"]])
    np.testing.assert_allclose(scored["score"], expected["score"], rtol=1e-6)  # batches change nothing
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".scored")] == []


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ("drop x1", "error: input has missing columns x1; the detector takes x0, x1"),
        ("gap", "error: input line 5 has no value in column 'x0'"),  # header = line 1
        ("text", "error: input column 'x1' is not numeric: 'about 3' in line 7"),
        ("empty", "error: input="),
        ("no model", "error: model_uri=runs:/0123456789abcdef/anomaly_detector: no such model"),
        ("empty parquet, no model", "error: input="),  # the input is checked before the model loads
    ],
)
def test_bad_input_to_the_scorer_is_one_line_and_writes_nothing(
    spiral_run, points, tmp_path, capsys, monkeypatch, change, line
) -> None:
    frame = pd.read_csv(points)
    model = f"runs:/{spiral_run['run'].info.run_id}/anomaly_detector"
    keep = ["keep=[id]"] if change != "drop x1" else []
    if change == "drop x1":
        frame = frame.drop(columns=["x1", "id"])
    if change == "gap":
        frame.loc[3, "x0"] = np.nan
    if change == "text":
        frame["x1"] = frame["x1"].astype(object)
        frame.loc[5, "x1"] = "about 3"
    if change == "empty":
        frame = frame.head(0)
    if change.endswith("no model"):
        model = "runs:/0123456789abcdef/anomaly_detector"
    if change.startswith("empty parquet"):
        points = points.with_suffix(".parquet")
        frame.head(0).to_parquet(points)
    else:
        frame.to_csv(points, index=False)
    output = tmp_path / "scored.csv"
    status = run_main(
        "score",
        tmp_path,
        *score_command(spiral_run["uri"], model, points, output, *keep),
        monkeypatch=monkeypatch,
    )
    stderr = capsys.readouterr().err
    assert status == 2 and stderr.strip().splitlines()[-1].startswith(line)
    assert "Traceback" not in stderr
    assert not output.exists() and not list(tmp_path.glob(".scored*"))


def test_a_file_in_the_training_format_scores_with_its_other_columns_carried(
    spiral_run, points, tmp_path, monkeypatch
) -> None:
    """Whole numbers where the model logged floats, and columns the model does not read (an id, a
    label) ride along unchanged; keep= narrows which of them the output keeps."""
    frame = pd.read_csv(points)
    frame["x0"] = frame["x0"].round().astype(int)  # int64 in the file: MLflow's schema refused it
    frame["label"] = "n"
    frame.to_csv(points, index=False)
    model = f"runs:/{spiral_run['run'].info.run_id}/anomaly_detector"
    output = tmp_path / "scored.csv"
    assert (
        run_main(
            "score",
            tmp_path,
            *score_command(spiral_run["uri"], model, points, output),
            monkeypatch=monkeypatch,
        )
        == 0
    )
    scored = pd.read_csv(output)
    assert list(scored.columns)[:4] == ["x0", "x1", "id", "label"]
    pd.testing.assert_frame_equal(scored[["x0", "x1", "id", "label"]], frame)
    expected = load_detector(spiral_run["uri"], model).predict(frame[["x0", "x1"]].astype(float))
    np.testing.assert_allclose(scored["score"], expected["score"], rtol=1e-6)
    narrowed = tmp_path / "narrowed.csv"
    args = score_command(spiral_run["uri"], model, points, narrowed, "keep=[id]")
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 0
    assert list(pd.read_csv(narrowed).columns)[:3] == ["x0", "x1", "id"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_parquet_input_is_scored_a_chunk_at_a_time_as_it_would_be_whole(
    spiral_run, points, tmp_path, capsys, monkeypatch, suffix
) -> None:
    """Row groups of 128 read in chunks of 100 rows: the output is the CSV input's, a bad value in a
    later chunk names its line in the file and leaves no output."""
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 100)
    given = pd.read_csv(points)
    source = tmp_path / "points.parquet"
    given.to_parquet(source, row_group_size=128)
    model = f"runs:/{spiral_run['run'].info.run_id}/anomaly_detector"
    whole, chunked = tmp_path / f"whole{suffix}", tmp_path / f"chunked{suffix}"
    for read, written in ((points, whole), (source, chunked)):
        args = score_command(spiral_run["uri"], model, read, written, "keep=[id]", "batch_size=30")
        assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 0
    assert "scored 1000 rows in" in capsys.readouterr().out
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    pd.testing.assert_frame_equal(read(chunked), read(whole))
    parts = tmp_path / "parts"  # a folder of Parquet files is one table, not a folder of images
    parts.mkdir()
    given.iloc[:600].to_parquet(parts / "part-0.parquet")
    given.iloc[600:].to_parquet(parts / "part-1.parquet")
    args = score_command(spiral_run["uri"], model, parts, tmp_path / f"parts{suffix}", "keep=[id]")
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 0
    pd.testing.assert_frame_equal(read(tmp_path / f"parts{suffix}"), read(whole))
    given.loc[717, "x0"] = np.nan  # line 719, the header being line 1
    given.to_parquet(source, row_group_size=128)
    args = score_command(spiral_run["uri"], model, source, tmp_path / f"bad{suffix}")
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 2
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert said.startswith("error: input line 719 has no value in column 'x0'")
    assert not (tmp_path / f"bad{suffix}").exists() and not list(tmp_path.glob(".bad*"))


def test_an_interrupted_write_leaves_no_output(spiral_run, points, tmp_path, monkeypatch) -> None:
    def fail_halfway(frame: pd.DataFrame, path: str, **kwargs) -> None:
        Path(path).write_text("x0,x1\n0.1,")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_halfway)
    model = f"runs:/{spiral_run['run'].info.run_id}/anomaly_detector"
    output = tmp_path / "scored.csv"
    args = score_command(spiral_run["uri"], model, points, output, "keep=[id]")
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 1  # Hydra reports the error
    assert not output.exists() and not list(tmp_path.glob(".scored*"))


def test_a_registered_detector_scores_by_version_and_alias(
    make_cfg, store, client, points, tmp_path, monkeypatch
) -> None:
    pca_baseline(make_cfg("register_as=spiral-detector", config_name="pca_baseline"))
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.data.tags["registered_model"] == "spiral-detector/1"
    client.set_registered_model_alias("spiral-detector", "champion", "1")
    results = []
    for model in ("models:/spiral-detector/1", "models:/spiral-detector@champion"):
        output = tmp_path / f"{model.rsplit('/', 1)[-1].replace('@', '-')}.csv"
        args = score_command(store["uri"], model, points, output, "keep=[id]")
        assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 0
        results.append(pd.read_csv(output))
    pd.testing.assert_frame_equal(*results)
    assert results[0]["score"].notna().all()


COLUMNS = ["merchant_category", "amount", "items", "V1", "V2", "V3"]


def new_transactions() -> pd.DataFrame:
    """New rows in the training file's format: whole-number amounts, gaps, a category never seen
    in training, the id, timestamp and label columns the detector does not read."""
    frame = transactions(rows=40, seed=1, gaps=3)
    frame.loc[:9, "amount"] = frame.loc[:9, "amount"].round()
    frame.loc[3, "merchant_category"] = "casino"
    return frame


def test_the_cli_the_pyfunc_and_rest_score_a_file_in_the_training_format_alike(
    served_detector, tmp_path, monkeypatch
) -> None:
    server, logged = served_detector
    frame = new_transactions()
    source, output = tmp_path / "new.csv", tmp_path / "scored.csv"
    frame.to_csv(source, index=False)
    args = score_command(logged["uri"], logged["model_uri"], source, output)
    assert run_main("score", tmp_path, *args, monkeypatch=monkeypatch) == 0
    scored = pd.read_csv(output)
    pd.testing.assert_frame_equal(scored[frame.columns], pd.read_csv(source))  # every column carried
    model = load_detector(logged["uri"], logged["model_uri"])
    deployed = model.unwrap_python_model().detector
    assert deployed.spec.columns == ["merchant_category", "amount", "items", "V1", "V2", "V3"]
    rows = deployed.checked(pd.read_csv(source)[deployed.spec.columns])  # as the signature types them
    local = model.predict(rows)
    np.testing.assert_allclose(scored["score"], local["score"], rtol=1e-6)
    body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}  # gaps as null
    request = urllib.request.Request(
        f"{server.url}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        served = pd.DataFrame(json.loads(response.read())["predictions"])
    np.testing.assert_allclose(served["score"], local["score"], rtol=1e-6)
    assert served["is_anomaly"].tolist() == local["is_anomaly"].tolist() == scored["is_anomaly"].tolist()
    assert {"error_merchant_category", "error_amount"} <= set(served.columns)  # per input column
    # Loaded through the registry from its skops file, the PCA scores as one fitted in this process
    # on the same encoded training rows.
    assert deployed.spec.detector == "pca" and isinstance(deployed.detector, PCADetector)
    datamodule = table_data(path=logged["data"], label="is_fraud")
    in_process = PCADetector(deployed.detector.n_components).fit(datamodule.splits.train)
    model_space = deployed.to_model_space(rows)
    np.testing.assert_allclose(local["score"], in_process.decision_function(model_space), rtol=1e-9)
    in_process.threshold_ = deployed.spec.threshold
    assert local["is_anomaly"].astype(int).tolist() == in_process.predict(model_space).tolist()
    assert MlflowClient(logged["uri"]).get_run(logged["model_uri"].split("/")[1]).info.status == "FINISHED"


def test_outputs_are_created_with_the_users_umask(tmp_path) -> None:
    """Written whole through a private temporary file, an output still gets the mode ``open`` would
    give it (it was 0600 whatever the umask)."""
    from autoencoders.util.files import atomic_folder, write_frame

    before = os.umask(0o027)
    try:
        write_frame(pd.DataFrame({"score": [0.5]}), tmp_path / "scored.csv")
        with atomic_folder(tmp_path / "maps") as folder:
            (folder / "a.png").write_bytes(b"png")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "scored.csv").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "maps").stat().st_mode) == 0o750


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"dataframe_split": {"columns": ["amount"], "data": [[1.0]]', None),  # not JSON
        ({"dataframe_split": {"columns": COLUMNS, "data": []}}, "input has no rows to score"),
        ({"dataframe_split": {"columns": COLUMNS[:2], "data": [["food", 1.0]]}}, None),  # columns missing
        ({"dataframe_split": {"columns": COLUMNS, "data": [["food", "lots", 1, 0.1, 0.2, 0.3]]}}, None),
        (None, None),  # null
        ({"dataframe_split": None}, None),
        (
            {
                "dataframe_split": {
                    "columns": [*COLUMNS, "note"],
                    "data": [["food", 1.0, 1, 0.1, 0.2, 0.3, "x"]],
                }
            },
            f"input has extra columns note; the detector takes {', '.join(COLUMNS)}",
        ),
    ],
)
def test_rest_answers_bad_requests_with_a_json_error_and_no_traceback(served_detector, body, said) -> None:
    server, _ = served_detector
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}/invocations", data, {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    assert raised.value.code == 400
    answer = raised.value.read().decode()
    assert "Traceback" not in answer and "stack_trace" not in answer
    error = json.loads(answer)
    assert error["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST")
    assert "\n" not in error["message"] and "Failed to predict" not in error["message"]  # one line
    if said:
        assert error["message"] == said


@pytest.mark.parametrize("rows", [SERVED_MAX_ROWS + 1, 200 * SERVED_MAX_ROWS])  # parsed; refused by size
def test_rest_refuses_more_rows_than_its_limit_with_413(served_detector, rows) -> None:
    server, _ = served_detector
    frame = pd.DataFrame([["food", 12.5, 1, 0.1, 0.2, 0.3]] * rows, columns=COLUMNS)
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})
    request = urllib.request.Request(
        f"{server.url}/invocations", body.encode(), {"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    assert raised.value.code == 413
    error = json.loads(raised.value.read())
    assert error["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert error["message"].endswith(
        f"this server scores at most {SERVED_MAX_ROWS} rows per request (max_rows)"
    )
    assert error["message"].startswith(
        f"input has {rows} rows" if rows < 100 else "the request is over 84,736 bytes"
    )
    within = json.dumps({"dataframe_split": json.loads(frame.head(SERVED_MAX_ROWS).to_json(orient="split"))})
    request = urllib.request.Request(
        f"{server.url}/invocations", within.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert len(json.loads(response.read())["predictions"]) == SERVED_MAX_ROWS


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        ("max_rows=0", "error: max_rows must be a positive integer, got 0"),
        ("port=70000", "error: port must be between 1 and 65535, got 70000"),
        ("model_uri=runs:/0123456789abcdef/anomaly_detector", "error: model_uri=runs:/0123456789abcdef"),
    ],
)
def test_serve_refuses_bad_settings_in_one_line(tmp_path, capsys, monkeypatch, setting, line) -> None:
    store = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["model_uri=runs:/0123456789abcdef/anomaly_detector", setting, store]
    assert run_main("serve", tmp_path, *args, monkeypatch=monkeypatch) == 2
    (said,) = capsys.readouterr().err.strip().splitlines()
    assert said.startswith(line)


def test_a_detector_saved_with_other_library_versions_is_loaded_with_a_warning(tmp_path, caplog) -> None:
    from importlib.metadata import version

    from autoencoders.deploy.batch import warn_of_other_versions

    requirements = tmp_path / "requirements.txt"
    lines = [f"numpy=={version('numpy')}", "pandas", "torch==0.0.1", "no-such-package==1.0"]
    requirements.write_text("\n".join(lines) + "\n")
    with caplog.at_level("WARNING"):
        said = warn_of_other_versions(requirements)
    assert said == [
        f"the detector was saved with torch==0.0.1; here: {version('torch')}",
        "the detector was saved with no-such-package==1.0; here: not installed",
    ]
    assert "its scores may differ from the run's" in caplog.text
    assert warn_of_other_versions(tmp_path / "absent.txt") == []
