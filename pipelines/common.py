"""Hydra glue shared by the entry points: resolvers, instantiation with one-line errors, config files."""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, ListConfig, OmegaConf

from autoencoders import tracking
from autoencoders.errors import ConfigError
from pipelines.sweep import is_multirun, job_run_name, sweep_tags

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "conf")

if not OmegaConf.has_resolver("project_root"):
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config an entry point would see, composed without running it (tests, notebooks, benchmarks)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name, overrides=overrides or [])


def build(node: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, with any error the target raises about its arguments reported
    as a ConfigError: the target's own when it is one, else one naming the config group."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from error
        first = str(error.__cause__ or error).strip().splitlines()[0]
        raise ConfigError(f"{node._key() or 'config'}: {first}") from error


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Report configuration errors as ``error: <message>`` on stderr and exit 2, no traceback.

    In a multirun the error is logged and raised on, so that Hydra records the job as failed and
    goes on with the next one (the command still exits non-zero at the end). SIGTERM (a scheduler,
    ``kill``) becomes ``SystemExit(143)``, so the open run is ended KILLED rather than left RUNNING.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        if is_multirun():
            raise
        raise SystemExit(2) from None


def flat_params(cfg: DictConfig, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The resolved config as ``a.b.c -> value``, less Hydra's ``_target_`` bookkeeping and the
    top-level keys in ``skip`` (each key resolves against the whole config)."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not str(key).startswith("_"):
                    walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = node

    for key in cfg:
        if key not in skip:
            value = cfg[key]
            walk(
                OmegaConf.to_container(value, resolve=True)
                if isinstance(value, DictConfig | ListConfig)
                else value,
                f"{key}.",
            )
    return out


@contextmanager
def config_files(cfg: DictConfig) -> Iterator[Path]:
    """A folder with Hydra's ``config.yaml`` and ``overrides.yaml`` for this job.

    Under ``@hydra.main`` that is the job's ``.hydra`` folder; under the compose API (tests,
    notebooks) the files are written to a temporary folder.
    """
    if HydraConfig.initialized() and HydraConfig.get().output_subdir is not None:
        output_dir = Path(HydraConfig.get().runtime.output_dir) / HydraConfig.get().output_subdir
        if (output_dir / "config.yaml").exists():
            yield output_dir
            return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        (path / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
        overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
        (path / "overrides.yaml").write_text(OmegaConf.to_yaml(list(overrides)))
        yield path


@contextmanager
def job_dir() -> Iterator[Path]:
    """The job's working folder (checkpoints): Hydra's output dir, or, under the compose API, a
    temporary one that is removed when the job is done (what matters is in MLflow by then)."""
    if HydraConfig.initialized():
        yield Path(HydraConfig.get().runtime.output_dir)
        return
    with tempfile.TemporaryDirectory(prefix="autoencoders-") as folder:
        yield Path(folder)


@contextmanager
def pipeline_run(
    cfg: DictConfig, tags: dict[str, str], skip_params: tuple[str, ...] = ()
) -> Iterator[tuple[MlflowClient, str, str]]:
    """Open the run a stage records into: the store and experiment from ``cfg.tracking``, the
    flattened config as params (less the top-level keys in ``skip_params``), Hydra's config files
    under ``config/``. Yields
    ``(client, experiment_id, run_id)``; the run ends FINISHED, FAILED or KILLED."""
    client, experiment_id = tracking.open_experiment(
        cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.get("artifact_root")
    )
    tags = {**tags, **sweep_tags()}
    run_name = job_run_name(cfg.get("run_name"))
    with tracking.tracked_run(client, experiment_id, run_name, tags) as run_id:
        tracking.log_params(client, run_id, flat_params(cfg, skip_params))
        with config_files(cfg) as folder:
            client.log_artifacts(run_id, str(folder), "config")
        yield client, experiment_id, run_id


def print_summary(cfg: DictConfig, experiment_id: str, run_id: str, metrics: dict[str, float]) -> None:
    """Print what the run measured and where to look at it."""
    lines = [f"{name:>12}  {value:.6g}" for name, value in metrics.items()]
    print("\n".join(["", f"run {run_id} FINISHED ({cfg.tracking.experiment})", *lines]))
    if tracking.is_local_store(cfg.tracking.uri):
        print(f"open it: make ui, then http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id}")
