"""What no object owns: each stage's own top-level keys, the groups read as plain values
(``tracking``, ``anomaly``), and the rules across groups. Everything built from the config
(datasets, networks, detectors, the trainer) checks its own settings in its constructor."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, open_dict

from autoencoders.training.selection import MODES
from autoencoders.util.params import (
    FRACTION,
    NAMES,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    InvalidParameter,
    ListOf,
    Options,
    Text,
    check_params,
)
from pipelines.hydra_glue import resolved, resumed_config

OPTIONAL_NAME = [Text(), None]
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
    "compare": {"experiments": [NAMES, None], "metrics": NAMES, "run_name": OPTIONAL_NAME},
    "score": {
        "model_uri": Text(),
        "input": Text(),
        "output": Text(),
        "keep": ListOf(Text(), "column names", empty=True),
        "batch_size": POSITIVE_INT,
    },
}
GROUPS: dict[str, dict[str, Any]] = {
    "tracking": {"uri": Text(), "experiment": OPTIONAL_NAME, "ui_url": Text()},
    "anomaly": {"threshold_quantile": FRACTION},  # and score: one of the anomaly scores
    # Lightning's Trainer owns its settings, but takes max_epochs=-1 as "train forever": a run here ends.
    "trainer": {"max_epochs": POSITIVE_INT, "check_val_every_n_epoch": POSITIVE_INT},
}


def checked(cfg: DictConfig, stage: str) -> DictConfig:
    """The config a stage runs (a resumed run's own), its keys checked, every library seeded
    (Python, numpy, torch) by ``seed``: a seeded object built after this draws the same."""
    cfg = resumed_config(cfg) if cfg.get("resume") else cfg
    check(cfg, stage)
    if "seed" in cfg:
        from lightning_fabric.utilities.seed import seed_everything

        seed_everything(cfg.seed, workers=True, verbose=False)
    return cfg


def check(cfg: DictConfig, stage: str) -> None:
    """The stage's own keys and the plain-value groups it reads; the first bad value raises a
    one-line ConfigError naming it. Nothing is built."""
    check_params(STAGE_KEYS[stage], {key: resolved(cfg, key) for key in STAGE_KEYS[stage]})
    from autoencoders.anomaly.scores import SCORES  # here: --help loads no torch

    groups = {**GROUPS, "anomaly": {**GROUPS["anomaly"], "score": Options(SCORES)}}
    for group, constraints in groups.items():
        if group in cfg:
            values = resolved(cfg, group)
            try:
                check_params({key: rule for key, rule in constraints.items() if key in values}, values)
            except InvalidParameter as error:
                raise error.under(group) from None


def settle_data_settings(cfg: DictConfig, datamodule: Any) -> DictConfig:
    """``cfg`` with the dataset settings the data decides (a table's width, the dense model's sizes
    for it) where the config left them null: what the model is built from and the run records."""
    found = {key: value for key, value in datamodule.settings().items() if cfg.dataset.get(key) is None}
    cfg = cfg.copy()
    with open_dict(cfg):
        for key, value in found.items():
            cfg.dataset[key] = value
    return cfg
