"""Reliability: bad input stops before anything exists, faults end a run FAILED or KILLED with the
reason, a killed training resumes in its own run to the uninterrupted result."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pytorch_lightning.callbacks import Callback

from autoencoders.training import fit
from autoencoders.training.module import AutoencoderModule
from helpers.entry import run_main, store_overrides
from helpers.runs import QUICK_SPIRAL, artifact_paths
from helpers.server import ADMIN, Forwarder
from pipelines import hydra_glue
from pipelines.hydra_glue import PROJECT_ROOT
from pipelines.train import train


def started_until(command: list[str], ready: Callable[[], bool]) -> subprocess.Popen:
    """``command`` started from the project's root, returned once ``ready()`` holds while it runs
    (its output is the failure if it ends first)."""
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.005)
    return process


def assert_finished_as_uninterrupted(client: MlflowClient, run_id: str, uninterrupted: dict) -> None:
    """A resumed run ended FINISHED with the final metrics of the same config trained without a stop
    (``spiral_run``), and each per-epoch metric holds each epoch once: none lost, none twice."""
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert "error" not in run.data.tags and "killed_by" not in run.data.tags
    for name, value in uninterrupted["metrics"].items():
        assert run.data.metrics[name] == pytest.approx(value, rel=1e-5), name
    for name in ("train/loss", "val/loss", "train/lr"):
        steps = [point.step for point in client.get_metric_history(run_id, name)]
        assert sorted(steps) == list(range(1, 21)), name  # QUICK_SPIRAL's 20 epochs


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["model.code_dim=0"], "error: model.code_dim must be a positive integer, got 0"),
        (["model.code_dim=1.5"], "error: model.code_dim must be a positive integer, got 1.5"),
        (["trainer.max_epochs=-1"], "error: trainer.max_epochs must be a positive integer, got -1"),
        (
            ["dataset=mnist", "dataset.normal_digits=[1,1]"],
            "error: dataset.normal_digits must be a non-empty list of distinct digits 0..9, got [1, 1]",
        ),
        (["model=conv", "dataset=spiral"], "error: model=conv needs image data (C x H x W)"),
        (["trainer=gpu"], "error: trainer.accelerator=gpu needs a CUDA GPU"),
        (["optimized_metric=test/auroc"], "error: optimized_metric must be one of ['val/loss', 'val/auroc']"),
        (
            ["tracking=server", "tracking.uri=http://127.0.0.1:9"],
            "error: tracking.uri=http://127.0.0.1:9: no MLflow server answers there",
        ),
        (["resume=0123abcd"], "error: resume=0123abcd: no such run"),
        (["dataset=table", "dataset.path=/no/such.csv"], "error: dataset.path=/no/such.csv: no such file"),
        (["dataset=table"], "error: dataset.path must be set"),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_run_and_no_output_folder(
    store, client, tmp_path, capsys, monkeypatch, overrides, line
) -> None:
    import torch

    if "trainer=gpu" in overrides and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    status = run_main("train", tmp_path, *store_overrides(store), *overrides, monkeypatch=monkeypatch)
    stderr = capsys.readouterr().err
    assert status == 2
    assert stderr.strip().splitlines()[-1].startswith(line)
    assert "Traceback" not in stderr
    assert client.search_experiments(filter_string="name != 'Default'") == []  # no run, no experiment
    assert not (tmp_path / "run").exists()  # Hydra's output folder is gone again


def test_a_mistyped_key_is_named(store, tmp_path, capsys, monkeypatch) -> None:
    status = run_main(
        "train", tmp_path, *store_overrides(store), "model.code_dimm=3", monkeypatch=monkeypatch
    )
    stderr = capsys.readouterr().err
    assert status != 0 and "Traceback" not in stderr
    assert "Could not override 'model.code_dimm'" in stderr  # Hydra's own message names the key


def test_a_diverging_loss_stops_at_once_and_fails_the_run_with_the_fix(
    store, client, tmp_path, capsys, monkeypatch
) -> None:
    overrides = [*store_overrides(store), *QUICK_SPIRAL, "model.optimizer.lr=1e8"]
    status = run_main("train", tmp_path, *overrides, monkeypatch=monkeypatch)
    stderr = capsys.readouterr().err
    assert status == 1
    (line,) = [text for text in stderr.splitlines() if text.startswith("error:")]
    assert line.startswith("error: training diverged: the training loss became nan at epoch 1")
    assert "lower model.optimizer.lr (now 1e+08) or scale the inputs" in line
    assert "Traceback" not in stderr
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("TrainingDiverged: training diverged")
    assert "test/auroc" not in run.data.metrics  # stopped in the first epoch, never evaluated


def test_an_error_inside_training_fails_the_run_and_writes_no_results(make_cfg, client, monkeypatch) -> None:
    fit_step = AutoencoderModule.training_step

    def failing_in_epoch_3(module, batch, batch_idx):
        if module.current_epoch == 2:
            raise RuntimeError("disk on fire")
        return fit_step(module, batch, batch_idx)

    monkeypatch.setattr(AutoencoderModule, "training_step", failing_in_epoch_3)
    with pytest.raises(RuntimeError, match="disk on fire"):
        train(make_cfg(*QUICK_SPIRAL))
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FAILED" and run.data.tags["error"] == "RuntimeError: disk on fire"
    files = artifact_paths(client, run.info.run_id)
    assert {"checkpoints/last.ckpt", "config/config.yaml"} <= files  # resumable
    assert not [path for path in files if path.endswith(".png") or path.startswith("evaluation/")]
    assert "train/rmse" not in run.data.metrics


def test_a_run_stopped_right_after_a_checkpoint_holds_the_loss_of_every_epoch_it_covers(
    make_cfg, client, monkeypatch
) -> None:
    """A stop between validation's checkpoint and the epoch's end (where a SIGTERM can land): the
    run already holds that epoch's train/loss, which its resume, starting after the epoch, never
    logs again."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    save_last = ModelCheckpoint._save_last_checkpoint

    def stopped_after_epoch_3(callback, trainer, candidates):
        save_last(callback, trainer, candidates)
        if trainer.current_epoch == 2:
            raise RuntimeError("stopped")

    monkeypatch.setattr(ModelCheckpoint, "_save_last_checkpoint", stopped_after_epoch_3)
    with pytest.raises(RuntimeError, match="stopped"):
        train(make_cfg(*QUICK_SPIRAL))
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FAILED" and "checkpoints/last.ckpt" in artifact_paths(client, run.info.run_id)
    steps = [point.step for point in client.get_metric_history(run.info.run_id, "train/loss")]
    assert sorted(steps) == [1, 2, 3]


def test_a_killed_training_resumes_in_its_run_to_the_uninterrupted_result(
    store, client, tmp_path, capsys, monkeypatch, spiral_run
) -> None:
    """SIGTERM to a real training process, then ``resume=``: the same config as the shared
    ``spiral_run``, which trained without interruption."""
    killed_dir = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "pipelines.train",
        f"hydra.run.dir={killed_dir}",
        *store_overrides(store),
    ]
    last = killed_dir / "checkpoints" / "last.ckpt"  # the first epoch's checkpoint
    process = started_until([*command, *QUICK_SPIRAL], last.exists)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    run_id = run.info.run_id
    assert run.info.status == "KILLED" and run.data.tags["killed_by"] == "SystemExit"
    assert "checkpoints/last.ckpt" in artifact_paths(client, run_id)  # another machine could resume
    assert f"python -m pipelines.train resume={run_id}" in stderr

    tracking = store_overrides(store)
    assert run_main("train", tmp_path, *tracking, f"resume={run_id}", "seed=3", monkeypatch=monkeypatch) == 2
    assert "drop seed=3" in capsys.readouterr().err  # the run's logged config is what resumes

    assert run_main("train", tmp_path, *tracking, f"resume={run_id}", monkeypatch=monkeypatch) == 0
    (resumed,) = client.search_runs([run.info.experiment_id])
    assert resumed.info.run_id == run_id
    assert_finished_as_uninterrupted(client, run_id, spiral_run)

    assert run_main("train", tmp_path, *tracking, f"resume={run_id}", monkeypatch=monkeypatch) == 2
    assert f"resume={run_id}: the run is FINISHED" in capsys.readouterr().err


def test_a_sigterm_whose_exception_a_finaliser_swallowed_still_exits_143(monkeypatch) -> None:
    """A signal that lands in a ``__del__`` loses the handler's ``SystemExit(143)``; Lightning's own
    SIGTERM flag then ends the fit with a bare ``SystemExit``, which must not exit 0."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    monkeypatch.setattr(hydra_glue, "_terminated_by", [])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as stop, hydra_glue.one_line_errors():
            with contextlib.suppress(SystemExit):  # what Python does with an error in a finaliser
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # the handler runs here
            raise SIGTERMException
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stop.value.code == 128 + signal.SIGTERM


def test_a_store_locked_by_another_process_for_seconds_waits_and_the_run_finishes(
    make_cfg, client, store
) -> None:
    """Another process holds the SQLite store's write lock for 6 s (past SQLite's default 5 s busy
    timeout) while a run writes its first records (a sweep's sibling job, a user's query): the run
    waits for it and finishes."""
    database = store["uri"].removeprefix("sqlite:///")
    client.search_experiments()  # the store exists before it is locked
    hold = (
        "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(6); c.execute('ROLLBACK')"
    )
    locker = subprocess.Popen([sys.executable, "-c", hold, database], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        train(make_cfg(*QUICK_SPIRAL))
        waited = time.monotonic() - started
    finally:
        locker.wait(timeout=30)
    (run,) = client.search_runs([client.get_experiment_by_name("spiral").experiment_id])
    assert run.info.status == "FINISHED" and "train/rmse" in run.data.metrics
    assert waited > 5  # its writes waited for the lock (the run alone takes about 2 s)


def test_a_failed_model_upload_fails_the_run_and_marks_the_model_failed(
    make_cfg, client, monkeypatch
) -> None:
    """The detector's upload breaks off (a full disk, a dropped connection to the artifact store): the
    run ends FAILED with the reason, and its logged model says FAILED rather than staying pending."""
    import mlflow.models

    def broken_upload(*args, **kwargs):
        raise OSError("connection reset by the artifact store")

    monkeypatch.setattr(mlflow.models.Model, "log", broken_upload)
    with pytest.raises(OSError, match="connection reset"):
        train(make_cfg(*QUICK_SPIRAL))
    experiment = client.get_experiment_by_name("spiral").experiment_id
    (run,) = client.search_runs([experiment])
    assert (
        run.info.status == "FAILED"
        and run.data.tags["error"] == "OSError: connection reset by the artifact store"
    )
    (model,) = client.search_logged_models([experiment])
    assert model.name == "anomaly_detector" and str(model.status) == "FAILED"


@pytest.mark.slow
def test_a_tracking_server_lost_mid_training_fails_in_one_line_and_the_run_resumes_when_it_is_back(
    mlflow_server, tmp_path, capsys, monkeypatch, spiral_run
) -> None:
    """The server goes away right after epoch 1's checkpoint (a proxy in front of the suite's server
    stops): one line names the server and the checkpoint kept here, the run stays RUNNING there
    (nothing can end it), and once the server is back ``resume=`` finishes it as ``spiral_run``."""
    for name, value in [("MAX_RETRIES", "2"), ("BACKOFF_FACTOR", "0"), ("BACKOFF_JITTER", "0")]:
        monkeypatch.setenv(f"MLFLOW_HTTP_REQUEST_{name}", value)  # MLflow's own: retries for ~4 min
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])  # the suite's server has its login on
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
    proxy = Forwarder(mlflow_server.url).start()
    tracking = ["tracking=server", f"tracking.uri={proxy.url}"]

    class ServerGoesAway(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if trainer.current_epoch == 1:  # epoch 1 is checkpointed; its metrics are still held back
                proxy.stop()
                trainer.logger.flush_seconds = 0  # its next write goes out now, not up to 10 s later

    callbacks = fit.training_callbacks

    def with_an_outage(*args) -> tuple:
        checkpoint, found = callbacks(*args)
        return checkpoint, [*found, ServerGoesAway()]

    monkeypatch.setattr(fit, "training_callbacks", with_an_outage)
    client = MlflowClient(mlflow_server.url)  # read back past the proxy

    def train_in(folder: str, *args: str) -> int:
        return run_main("train", tmp_path / folder, *tracking, *args, monkeypatch=monkeypatch)

    try:
        status = train_in("first", "tracking.experiment=lost server", *QUICK_SPIRAL)
        stderr = capsys.readouterr().err
        (run,) = client.search_runs([client.get_experiment_by_name("lost server").experiment_id])
        run_id, kept = run.info.run_id, (tmp_path / "first" / "run" / "checkpoints").resolve()
        assert status == 1 and "Traceback" not in stderr
        (line,) = [text for text in stderr.splitlines() if text.startswith("error:")]
        said = (
            f"error: the tracking server {proxy.url} stopped answering (ERRNO Connection refused); "
            f"the run's last checkpoint is kept in {kept}; when the server is back: "
            f"python -m pipelines.train resume={run_id}"
        )
        assert re.fullmatch(re.escape(said).replace("ERRNO", r"\[Errno \d+\]"), line), line
        assert run.info.status == "RUNNING" and run.data.metrics == {}  # no write got through
        assert "checkpoints/last.ckpt" not in artifact_paths(client, run_id)
        assert (kept / "last.ckpt").is_file() and (kept / "server-gone.json").is_file()

        monkeypatch.setattr(fit, "training_callbacks", callbacks)
        proxy.start()
        (kept / "server-gone.json").rename(kept / "moved.json")  # a RUNNING run without the mark
        assert train_in("refused", f"resume={run_id}") == 2
        assert "the run is RUNNING; only KILLED or FAILED runs can be resumed" in capsys.readouterr().err
        (kept / "moved.json").rename(kept / "server-gone.json")
        assert train_in("again", f"resume={run_id}") == 0
    finally:
        proxy.stop()
    assert_finished_as_uninterrupted(client, run_id, spiral_run)  # epochs 1-2's metrics: from the mark
    assert not (kept / "server-gone.json").exists()  # logged once: a second resume cannot log them again
    again = (tmp_path / "again" / "run" / "checkpoints").resolve()
    assert client.get_run(run_id).data.tags["system.checkpoint_dir"] == str(again)


def test_a_sigterm_while_an_output_is_written_removes_its_temporary_file(tmp_path, monkeypatch) -> None:
    """SIGTERM becomes ``SystemExit(143)`` (the entry points' handler) wherever the writer is: the
    output does not exist and its temporary file is gone. (SIGKILL, below, with a real process.)"""
    from autoencoders.util.files import write_frame

    def interrupted(self, stream, **kwargs) -> None:
        stream.write(b"x0,x1\n0.1,")  # half a file, then the signal's exception
        raise SystemExit(128 + signal.SIGTERM)

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(SystemExit):
        write_frame(pd.DataFrame({"x0": [0.1]}), tmp_path / "scored.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_scoring_process_killed_mid_file_leaves_no_output(spiral_run, tmp_path) -> None:
    """A real ``python -m pipelines.score`` killed by SIGKILL while it writes its output (where a
    direct write would leave half a file): there is no output. SIGKILL cannot be caught, so the
    temporary file stays, hidden and named so that no ``*.csv`` matches it."""
    source, folder = tmp_path / "points.parquet", tmp_path / "scored"
    points = np.random.default_rng(0).normal(size=(150_000, 2))  # about half a second of writing
    pd.DataFrame(points, columns=["x0", "x1"]).to_parquet(source)
    folder.mkdir()
    model = f"runs:/{spiral_run['run'].info.run_id}/anomaly_detector"
    settings = [
        f"tracking.uri={spiral_run['uri']}",
        f"model_uri={model}",
        f"input={source}",
        "batch_size=10000",
    ]
    command = [sys.executable, "-m", "pipelines.score", *settings, f"output={folder / 'scored.csv'}"]
    process = started_until([*command, f"hydra.run.dir={tmp_path / 'run'}"], lambda: any(folder.iterdir()))
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    left = [path.name for path in folder.iterdir()]
    assert process.returncode == -signal.SIGKILL, stderr[-2000:]
    (partial,) = left
    assert partial.startswith(".scored.csv.partial-") and not list(folder.glob("*.csv"))
