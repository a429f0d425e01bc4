"""What no object owns: each stage's own top-level keys, the groups read as plain values
(``tracking``, ``anomaly``), and the rules across groups. Everything built from the config
(datasets, networks, detectors, the trainer) checks its own settings in its constructor."""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from autoencoders.errors import ConfigError
from autoencoders.evaluation.thresholds import THRESHOLD_RULES
from autoencoders.tracking import runs
from autoencoders.training.selection import MODES
from autoencoders.util.params import (
    FRACTION,
    NAMES,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    Interval,
    InvalidParameter,
    ListOf,
    Options,
    Text,
    check_params,
)

OPTIONAL_NAME = [Text(), None]
PORT = Interval(int, 1, 65535)
SELECTION = {"optimized_metric": Text(), "optimized_mode": Options(MODES), "run_name": OPTIONAL_NAME}
SEEDED = {**SELECTION, "seed": NON_NEGATIVE_INT, "register_as": OPTIONAL_NAME}

STAGE_KEYS: dict[str, dict[str, Any]] = {
    "train": {
        **SEEDED,
        "num_threads": [POSITIVE_INT, None],
        "steps_per_call": [POSITIVE_INT, None],
        "resume": OPTIONAL_NAME,
    },
    "baseline": {**SEEDED, "baseline_for": OPTIONAL_NAME},
    "compare": {
        "experiments": [NAMES, None],
        "metrics": NAMES,
        "rank_by": Text(),
        "run_name": OPTIONAL_NAME,
        "seed": NON_NEGATIVE_INT,
    },
    "score": {
        "model_uri": Text(),
        "input": Text(),
        "output": Text(),
        "keep": ListOf(Text(), "column names", empty=True),
        "batch_size": POSITIVE_INT,
        "seed": NON_NEGATIVE_INT,
        "skip_unreadable": Options((True, False)),
        "maps": Options((True, False)),
    },
    "serve": {
        "model_uri": Text(),
        "host": Text(),
        "port": PORT,
        "max_rows": POSITIVE_INT,
        "seed": NON_NEGATIVE_INT,
    },
    "tracking_server": {
        "host": Text(),
        "port": PORT,
        "store": Text(),
        "allowed_hosts": ListOf(Text(), "host names", empty=True),
        "auth": Options(("auto", True, False)),
        # MLflow's permission names (mlflow/server/auth/permissions.py), DENY aside
        "default_permission": Options(("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")),
        "auth_cache_seconds": NON_NEGATIVE_INT,
        "workers": [POSITIVE_INT, None],
        "seed": NON_NEGATIVE_INT,
    },
}
GROUPS: dict[str, dict[str, Any]] = {
    "tracking": {"uri": Text(), "experiment": OPTIONAL_NAME, "ui_url": Text()},
    "anomaly": {
        "threshold": Options(THRESHOLD_RULES),
        "threshold_quantile": FRACTION,
        "contamination": Interval(float, 0, 0.5, closed="left"),
        "trim": Options((True, False)),
    },  # and score: one of the anomaly scores
    # Lightning's Trainer owns its settings, but takes max_epochs=-1 as "train forever": a run here ends.
    "trainer": {"max_epochs": POSITIVE_INT, "check_val_every_n_epoch": POSITIVE_INT},
}


def check(cfg: DictConfig, stage: str) -> None:
    """The stage's own keys and the plain-value groups it reads; the first bad value raises a
    one-line ConfigError naming it. Nothing is built."""
    check_params(STAGE_KEYS[stage], {key: resolved(cfg, key) for key in STAGE_KEYS[stage]})
    from autoencoders.anomaly.scores import SCORES  # here: --help loads no torch

    fallbacks = Options(tuple(name for name in SCORES if name != "auto"))
    from autoencoders.evaluation.points import POINT_SCORES

    scores = {"score": Options(SCORES), "fallback": fallbacks, "point_score": Options(POINT_SCORES)}
    groups = {**GROUPS, "anomaly": {**GROUPS["anomaly"], **scores}}
    for group, constraints in groups.items():
        if group in cfg:
            values = resolved(cfg, group)
            try:
                check_params({key: rule for key, rule in constraints.items() if key in values}, values)
            except InvalidParameter as error:
                raise error.under(group) from None
    anomaly = cfg.get("anomaly") or {}
    if anomaly.get("trim") and not anomaly.get("contamination"):
        raise ConfigError(
            "anomaly.trim=true needs anomaly.contamination above 0: the share of training rows to leave out"
        )


def followed_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` with the dataset, code size and experiment of the run named by ``baseline_for``."""
    text, experiment = runs.logged_config(cfg.tracking.uri, cfg.baseline_for, "baseline_for")
    run_cfg = OmegaConf.create(text)
    if "dataset" not in run_cfg or "model" not in run_cfg:
        raise ConfigError(f"baseline_for={cfg.baseline_for}: that run's config has no dataset or model")
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.dataset = run_cfg.dataset
        cfg.model.code_dim = run_cfg.model.code_dim  # PCA's n_components follows it
        cfg.tracking.experiment = experiment
    return cfg


def settle_data_settings(cfg: DictConfig, datamodule: Any) -> DictConfig:
    """``cfg`` with the dataset settings the data decides (a table's width, the dense model's sizes
    for it) where the config left them null: what the model is built from and the run records."""
    found = {key: value for key, value in datamodule.settings().items() if cfg.dataset.get(key) is None}
    cfg = cfg.copy()
    with open_dict(cfg):
        for key, value in found.items():
            cfg.dataset[key] = value
    return cfg


def one_line(error: OmegaConfBaseException) -> str:
    """OmegaConf's report (an unset ``???`` or a broken interpolation) in one line."""
    message = str(error.msg or error).splitlines()[0]
    if "Missing mandatory value: " in message:  # ``???`` met while resolving another setting
        return f"{message.split('Missing mandatory value: ')[1].strip()} must be set"
    if isinstance(error, MissingMandatoryValue):
        return f"{error.full_key} must be set"
    return f"{error.full_key}: {message}" if error.full_key else message


def resolved(cfg: DictConfig, key: str) -> Any:
    """``cfg[key]`` as plain values, interpolations resolved; a broken one is a one-line error."""
    try:
        value = cfg[key]
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    except OmegaConfBaseException as error:
        raise ConfigError(one_line(error)) from None


def source_of(root: DictConfig, key: str) -> str:
    """The setting a value was written as: ``model.net.code_dim`` is ``${..code_dim}``, so a bad
    value is named ``model.code_dim``, as the user typed it."""
    parent_key, _, name = key.rpartition(".")
    parent = OmegaConf.select(root, parent_key) if parent_key else root
    if (
        not isinstance(parent, DictConfig)
        or name not in parent
        or not OmegaConf.is_interpolation(parent, name)
    ):
        return key
    match = re.fullmatch(r"\$\{(\.*)([\w.]+)\}", str(parent._get_node(name)._value()))
    if match is None:
        return key
    dots, target = match.groups()
    levels = parent_key.split(".")[: len(parent_key.split(".")) - max(len(dots) - 1, 0)] if dots else []
    return ".".join([*levels, target])


def target_error(error: Exception, node: DictConfig) -> ConfigError:
    """What building ``node`` failed on, in one line: a setting out of range named as the user wrote
    it (``model.code_dim``), the target's own ConfigError as it is, else the first line of the error
    under its config group."""
    text = str(error)
    where = text.rpartition("full_key: ")[2].strip() if "full_key: " in text else node._key()
    cause = error.__cause__
    while cause is not None and not isinstance(cause, ConfigError):
        cause = cause.__cause__
    if isinstance(cause, InvalidParameter):
        named = cause.under(where or "")
        return named.under_name(source_of(node._get_root(), named.name))
    if cause is not None:
        return cause
    lines = [line.strip() for line in str(error.__cause__ or error).splitlines() if line.strip()]
    first = " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return ConfigError(f"{where or 'config'}: {first}")
