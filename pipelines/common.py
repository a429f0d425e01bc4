"""Hydra glue shared by the entry points: the config folder, composing, and building objects with
one-line errors."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from autoencoders.errors import ConfigError, InputError, TrainingDiverged
from autoencoders.tracking.store import redact
from autoencoders.training.selection import epoch_stride
from autoencoders.util.console import quiet_libraries
from autoencoders.util.params import InvalidParameter
from pipelines.job import discard_job_dir, is_multirun
from pipelines.schema import register

register()

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "conf")

if not OmegaConf.has_resolver("project_root"):
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))
if not OmegaConf.has_resolver("path_stem"):  # a file's or folder's name: the experiment of your own data
    OmegaConf.register_new_resolver("path_stem", lambda path: Path(str(path)).stem or "data")
if not OmegaConf.has_resolver("epoch_stride"):  # validate every n-th epoch: ~20 times a run
    OmegaConf.register_new_resolver("epoch_stride", epoch_stride)
if not OmegaConf.has_resolver("optuna_direction"):  # optimized_mode in Optuna's words
    OmegaConf.register_new_resolver(
        "optuna_direction", lambda mode: {"min": "minimize", "max": "maximize"}.get(mode, mode)
    )


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config an entry point would see, composed without running it (tests, notebooks, benchmarks)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name, overrides=overrides or [])


def settle_data_settings(cfg: DictConfig, datamodule: Any) -> DictConfig:
    """``cfg`` with the dataset settings the data decides (a table's width, the dense model's sizes
    for it) filled in where the config left them null: what the model is built from, and what
    the run records as its params."""
    found = {key: value for key, value in datamodule.settings().items() if cfg.dataset.get(key) is None}
    if not found:
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        for key, value in found.items():
            cfg.dataset[key] = value
    return cfg


def build(node: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, with any error the target raises about its arguments reported
    as a ConfigError: a setting out of range (:class:`InvalidParameter`) under its config path
    (``method.n_neighbors must be ...``), the target's own ConfigError as it is, else one naming the
    config group. Targets get plain lists and dicts, never OmegaConf containers: what they save in a
    checkpoint must load with ``weights_only=True``."""
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if isinstance(cause, InvalidParameter):
            raise cause.under(node._get_full_key(None)) from error
        if cause is not None:
            raise cause from error
        first = str(error.__cause__ or error).strip().splitlines()[0]
        raise ConfigError(f"{node._key() or 'config'}: {first}") from error


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Report configuration errors as ``error: <message>`` on stderr and exit 2, no traceback, and
    remove the output folder Hydra made for the job; a diverged training (its run ended FAILED) the
    same way, with exit status 1.

    The libraries' banners and deprecation notices are silenced (``autoencoders.util.console``). In a
    multirun the error is raised on, so that Hydra records the job as failed and goes on (the
    command still exits non-zero at the end). SIGTERM (a scheduler, ``kill``) becomes
    ``SystemExit(143)``, so the open run is ended KILLED rather than left RUNNING.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    quiet_libraries()
    try:
        yield
    except (ConfigError, InputError, TrainingDiverged) as error:
        print(f"error: {redact(str(error))}", file=sys.stderr)
        if is_multirun():
            raise
        if isinstance(error, ConfigError | InputError):
            discard_job_dir()  # nothing ran: leave no output folder behind
        raise SystemExit(1 if isinstance(error, TrainingDiverged) else 2) from None
