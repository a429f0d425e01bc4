"""What a Hydra job knows about itself (its mode, sweep, overrides and folder), handed to the
library's stage run."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict

from autoencoders.errors import ConfigError
from autoencoders.tracking import runs, sweeps
from autoencoders.tracking.store import Target, is_local_store, prepare_store


def is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_tags() -> dict[str, str]:
    """Tags that put this job's run under its sweep's parent run ({} outside a multirun)."""
    if not is_multirun():
        return {}
    job = HydraConfig.get()
    return sweeps.job_tags(Path(job.sweep.dir), job.job.num, job.overrides.task)


#: Overrides that say where a job writes, not what it is: left out of its run's name.
PLUMBING = ("tracking.", "hydra.", "paths.", "hydra/")


def job_run_name(chosen: str | None, default: str) -> str:
    """The run's name: ``run_name`` when set; in a multirun ``job N: <its overrides>``; else the
    stage's own name for what it ran (``dense code=1 seed=0``)."""
    if chosen:
        return chosen
    if not is_multirun():
        return default
    job = HydraConfig.get()
    swept = [item for item in job.overrides.task if not item.startswith(PLUMBING)]
    return f"job {job.job.num}: {' '.join(swept)}" if swept else f"job {job.job.num}: {default}"


@contextmanager
def job_dir() -> Iterator[Path]:
    """The job's working folder (checkpoints): Hydra's output dir, or, under the compose API, a
    temporary one that is removed when the job is done (what matters is in MLflow by then)."""
    if HydraConfig.initialized():
        yield Path(HydraConfig.get().runtime.output_dir)
        return
    with tempfile.TemporaryDirectory(prefix="autoencoders-") as folder:
        yield Path(folder)


def discard_job_dir() -> None:
    """Remove what Hydra wrote for a job that stopped on bad input (its ``.hydra`` folder and log)
    and the folders left empty by that, up to the launch directory; anything else stays."""
    if not HydraConfig.initialized():
        return
    job = HydraConfig.get()
    folder = Path(job.runtime.output_dir)
    if job.output_subdir:
        shutil.rmtree(folder / job.output_subdir, ignore_errors=True)
    (folder / f"{job.job.name}.log").unlink(missing_ok=True)
    launch = Path(job.runtime.cwd).resolve()
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
        folder = folder.parent.resolve()
        while launch in folder.parents:  # outputs/<date>, left empty
            folder.rmdir()
            folder = folder.parent


def tracking_target(tracking: DictConfig) -> Target:
    """Where the ``tracking`` group sends a run."""
    return Target(tracking.uri, tracking.experiment, tracking.get("artifact_root"))


def resolved(cfg: DictConfig, key: str) -> Any:
    """``cfg[key]`` as plain values, its interpolations resolved against the whole config."""
    value = cfg[key]
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


@contextmanager
def stage_run(
    cfg: DictConfig,
    tags: dict[str, str],
    name: str,
    skip_params: tuple[str, ...] = (),
    extra_params: dict[str, object] | None = None,
) -> Iterator[tuple[MlflowClient, str, str]]:
    """The library's stage run for this job: ``cfg.tracking``'s store, the resolved config as params
    (less the top-level groups in ``skip_params``; machine paths go to tags), the config and
    overrides as files, and the sweep's tags. ``name`` names the run unless ``run_name`` is set.
    Yields ``(client, experiment_id, run_id)``."""
    target = tracking_target(cfg.tracking)
    flat = runs.flatten({key: resolved(cfg, key) for key in cfg if key not in skip_params})
    params, path_tags = runs.split_paths({**flat, **(extra_params or {})})
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    run_name = job_run_name(cfg.get("run_name"), name)
    tags = {**path_tags, **tags, **job_tags()}
    with runs.stage_run(target, run_name, tags, params, OmegaConf.to_yaml(cfg), overrides) as opened:
        yield opened


#: Overrides a resumed run may take: where the store is, Hydra's own settings.
RESUME_OVERRIDES = ("resume=", "tracking=", *PLUMBING)


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The config of the run ``cfg.resume`` names, as it logged it, with this command's ``tracking``
    and ``paths``: a resumed run continues what it ran. Other overrides, a run that is not KILLED or
    FAILED, or one without a last checkpoint stop here, before anything is built."""
    run_id = cfg.resume
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    other = [item for item in overrides if not item.startswith(RESUME_OVERRIDES)]
    if other:
        raise ConfigError(
            f"resume={run_id} continues the run with its logged config; drop {' '.join(other)} "
            "(only tracking.*, paths.* and hydra.* settings go with resume)"
        )
    text, experiment = runs.logged_config(cfg.tracking.uri, run_id, "resume")
    client = MlflowClient(cfg.tracking.uri)
    status = client.get_run(run_id).info.status
    if status not in (runs.KILLED, runs.FAILED):
        raise ConfigError(f"resume={run_id}: the run is {status}; only KILLED or FAILED runs can be resumed")
    if not has_last_checkpoint(client, run_id):
        raise ConfigError(
            f"resume={run_id}: the run kept no checkpoints/last.ckpt (it stopped before its first "
            "checkpoint); start a new run instead"
        )
    logged = OmegaConf.create(text)
    with open_dict(logged):
        logged.tracking, logged.paths, logged.resume = cfg.tracking, cfg.paths, run_id
        logged.tracking.experiment = experiment
    return logged


@contextmanager
def resumed_run(cfg: DictConfig) -> Iterator[tuple[MlflowClient, str, str]]:
    """The KILLED or FAILED run ``cfg.resume`` names, RUNNING again: its params and config stay as
    they were logged. Yields ``(client, experiment_id, run_id)``."""
    client = prepare_store(cfg.tracking.uri)
    experiment_id = client.get_run(cfg.resume).info.experiment_id
    with runs.reopened_run(client, cfg.resume) as run_id:
        yield client, experiment_id, run_id


def has_last_checkpoint(client: MlflowClient, run_id: str) -> bool:
    return "checkpoints/last.ckpt" in {item.path for item in client.list_artifacts(run_id, "checkpoints")}


def print_resume_hint(client: MlflowClient, run_id: str) -> None:
    """How to continue a run that stopped, when it kept a checkpoint to continue from."""
    with contextlib.suppress(Exception):  # the run is ending anyway: a hint, not a second error
        if not has_last_checkpoint(client, run_id):
            return
        print(f"run {run_id} stopped; its last checkpoint is kept. Resume it with:", file=sys.stderr)
        print(f"  python -m pipelines.train resume={run_id}", file=sys.stderr)


def print_summary(cfg: DictConfig, experiment_id: str, run_id: str, metrics: dict[str, float]) -> None:
    """Print what the run measured and where to look at it."""
    width = max(map(len, metrics), default=0)
    lines = [f"{name:>{width}}  {value:.6g}" for name, value in metrics.items()]
    print("\n".join(["", f"run {run_id} FINISHED ({cfg.tracking.experiment})", *lines]))
    print_link(cfg.tracking, experiment_id, run_id)


def print_link(tracking: DictConfig, experiment_id: str, run_id: str, what: str = "the run") -> None:
    """The UI link of a run: its training view, on the host and port ``tracking.ui_url`` names."""
    hint = " (make ui first)" if is_local_store(tracking.uri) else ""
    print(f"{what} in the MLflow UI{hint}: {runs.ui_link(tracking.ui_url, experiment_id, run_id)}")
