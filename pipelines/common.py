"""Hydra glue shared by the entry points: resolvers, instantiation with one-line errors, config files."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from autoencoders.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "conf")

if not OmegaConf.has_resolver("project_root"):
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))


def build(node: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, with a ConfigError from the target surfaced as itself."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from error
        raise


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Report configuration errors as ``error: <message>`` on stderr and exit 2, no traceback."""
    try:
        yield
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def flat_params(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as ``a.b.c -> value``, without Hydra's ``_target_`` bookkeeping."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not str(key).startswith("_"):
                    walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = node

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out


@contextmanager
def config_files(cfg: DictConfig) -> Iterator[Path]:
    """A folder with Hydra's ``config.yaml`` and ``overrides.yaml`` for this job.

    Under ``@hydra.main`` that is the job's ``.hydra`` folder; under the compose API (tests,
    notebooks) the files are written to a temporary folder.
    """
    if HydraConfig.initialized():
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


def output_dir(cfg: DictConfig) -> Path:
    """The job's working folder: Hydra's output dir, or a fresh temporary one under compose."""
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(tempfile.mkdtemp(prefix="autoencoders-"))


def job_overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


Entry = Callable[[DictConfig], Any]
