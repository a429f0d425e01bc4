"""The config schema: one dataclass per config group option, checked in one place before anything
is built, created or written.

Types come from the annotations (OmegaConf's structured configs), ranges and names from each
group's ``__post_init__``. The yaml files under ``conf/`` keep the defaults; a field without a default
here is one the yaml must set. The dataclasses are registered in Hydra's ConfigStore (group
``schema``), and :func:`check` merges each composed group onto its schema right after composition:
a bad value then stops with one line naming the setting and what it allows (exit status 2), where a
merge during composition would print Hydra's multi-line report (exit status 1).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, OmegaConfBaseException, ValidationError

from autoencoders.errors import ConfigError

MODES = ("min", "max")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
PRECISIONS = (
    "64-true",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
    "64",
    "32",
    "16",
    "bf16",
)


def require(ok: bool, setting: str, allowed: str, value: Any) -> None:
    """Raise the one-line error: ``<setting> must be <allowed>, got <value>``."""
    if not ok:
        raise ConfigError(f"{setting} must be {allowed}, got {value!r}")


def positive(setting: str, value: int | float) -> None:
    require(
        value > 0, setting, "a positive number" if isinstance(value, float) else "a positive integer", value
    )


def at_least_zero(setting: str, value: int | float) -> None:
    require(value >= 0, setting, "0 or more", value)


def one_of(setting: str, value: Any, allowed: Sequence[str]) -> None:
    require(value in allowed, setting, f"one of {list(allowed)}", value)


def shift_pixels(setting: str, value: int, image_size: list[int]) -> None:
    """A training shift of whole pixels: 0 (off) up to under half the smaller image side."""
    limit = (min(image_size) - 1) // 2
    require(0 <= value <= limit, setting, f"0 (off) to {limit} pixels", value)


def positive_list(setting: str, values: list[int]) -> None:
    require(
        len(values) > 0 and all(v > 0 for v in values),
        setting,
        "a non-empty list of positive integers",
        values,
    )


def fraction(setting: str, value: float) -> None:
    require(0 < value < 1, setting, "between 0 and 1 (exclusive)", value)


# --- dataset ---------------------------------------------------------------------------------


@dataclass
class DatasetSchema:
    """What every in-memory dataset has: its name, shape and how it is batched."""

    _target_: str = MISSING
    name: str = MISSING
    input_shape: list[int] = MISSING
    batch_size: int = MISSING
    epochs: int = MISSING
    epoch_size: int = MISSING

    def __post_init__(self) -> None:
        require(bool(self.name), "dataset.name", "a non-empty name", self.name)
        positive_list("dataset.input_shape", self.input_shape)
        for setting in ("batch_size", "epochs", "epoch_size"):
            positive(f"dataset.{setting}", getattr(self, setting))


@dataclass
class SpiralSchema(DatasetSchema):
    n_train: int = MISSING
    n_val: int = MISSING
    n_test: int = MISSING
    n_anomalies: int = MISSING
    train_seed: int = MISSING
    val_seed: int = MISSING
    test_seed: int = MISSING
    anomaly_seed: int = MISSING
    anomaly_margin: float = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        for setting in ("n_train", "n_val", "n_test"):
            positive(f"dataset.{setting}", getattr(self, setting))
        for setting in (
            "n_anomalies",
            "train_seed",
            "val_seed",
            "test_seed",
            "anomaly_seed",
            "anomaly_margin",
        ):
            at_least_zero(f"dataset.{setting}", getattr(self, setting))


@dataclass
class MNISTSchema(DatasetSchema):
    root: str = MISSING
    source: str = MISSING
    normal_digits: list[int] = MISSING
    val_fraction: float = MISSING
    bundled_test_fraction: float = MISSING
    split_seed: int = MISSING
    augment_shift: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        shift_pixels("dataset.augment_shift", self.augment_shift, [28, 28])
        from autoencoders.data.mnist import SOURCES

        one_of("dataset.source", self.source, SOURCES)
        digits = list(self.normal_digits)
        require(
            bool(digits) and all(0 <= d <= 9 for d in digits) and len(set(digits)) == len(digits),
            "dataset.normal_digits",
            "a non-empty list of distinct digits 0..9",
            digits,
        )
        fraction("dataset.val_fraction", self.val_fraction)
        fraction("dataset.bundled_test_fraction", self.bundled_test_fraction)
        at_least_zero("dataset.split_seed", self.split_seed)


@dataclass
class OwnDataSchema(DatasetSchema):
    """What a user's own data shares: one-class split fractions and their seed."""

    val_fraction: float = MISSING
    test_fraction: float = MISSING
    anomaly_val_fraction: float = MISSING
    split_seed: int = MISSING

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction("dataset.val_fraction", self.val_fraction)
        fraction("dataset.test_fraction", self.test_fraction)
        require(
            0 <= self.anomaly_val_fraction <= 1,
            "dataset.anomaly_val_fraction",
            "between 0 and 1",
            self.anomaly_val_fraction,
        )
        require(
            self.val_fraction + self.test_fraction < 1,
            "dataset.val_fraction + dataset.test_fraction",
            "below 1 (the rest trains)",
            self.val_fraction + self.test_fraction,
        )
        at_least_zero("dataset.split_seed", self.split_seed)


@dataclass
class TableSchema(OwnDataSchema):
    """Settings that follow from the table may be null until it is read."""

    path: str = MISSING
    features: list[str] | None = None
    label: str | None = None
    anomaly_values: list[Any] = MISSING
    scaler: str = MISSING
    missing: str = MISSING
    input_shape: list[int] | None = None  # type: ignore[assignment]
    epoch_size: int | None = None  # type: ignore[assignment]
    model_code_dim: int | None = None
    model_hidden_dims: list[int] | None = None
    model_output_activation: str | None = None

    def __post_init__(self) -> None:
        from autoencoders.data.table import MISSING_POLICIES, SCALERS

        if self.input_shape is not None and self.epoch_size is not None:
            super().__post_init__()
        one_of("dataset.scaler", self.scaler, SCALERS)
        one_of("dataset.missing", self.missing, MISSING_POLICIES)
        if self.features is not None:
            require(
                len(self.features) > 0,
                "dataset.features",
                "null (every numeric column) or a non-empty list",
                self.features,
            )
        require(
            len(self.anomaly_values) > 0,
            "dataset.anomaly_values",
            "a non-empty list",
            list(self.anomaly_values),
        )
        if self.model_code_dim is not None:
            positive("dataset.model_code_dim", self.model_code_dim)
        if self.model_hidden_dims is not None:
            positive_list("dataset.model_hidden_dims", self.model_hidden_dims)


@dataclass
class ImageFolderSchema(OwnDataSchema):
    root: str = MISSING
    normal_dir: str = MISSING
    abnormal_dir: str = MISSING
    channels: int = MISSING
    image_size: list[int] = MISSING
    skip_unreadable: bool = False
    augment_shift: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.channels in (1, 3), "dataset.channels", "1 (grey) or 3 (RGB)", self.channels)
        require(len(self.image_size) == 2, "dataset.image_size", "[height, width]", list(self.image_size))
        positive_list("dataset.image_size", self.image_size)
        shift_pixels("dataset.augment_shift", self.augment_shift, self.image_size)


# --- model -----------------------------------------------------------------------------------


@dataclass
class OptimizerSchema:
    """A torch optimizer, built partially (the module gives its parameters); other keyword
    arguments (``weight_decay``, ``momentum``) pass through unchecked."""

    open: ClassVar[bool] = True
    _target_: str = MISSING
    _partial_: bool = True
    lr: float = MISSING


@dataclass
class SchedulerSchema:
    open: ClassVar[bool] = True
    _target_: str = MISSING
    _partial_: bool = True


@dataclass
class DenseNetSchema:
    _target_: str = MISSING
    input_shape: list[int] = MISSING
    code_dim: int = MISSING
    hidden_dims: list[int] = MISSING
    activation: str = MISSING
    output_activation: str | None = None


@dataclass
class ConvNetSchema:
    _target_: str = MISSING
    input_shape: list[int] = MISSING
    code_dim: int = MISSING
    channels: list[int] = MISSING
    kernel_size: int = MISSING
    upsampling: str = MISSING
    activation: str = MISSING


@dataclass
class ModelSchema:
    """An autoencoder: its network, code and optimisation; the network's own settings are checked
    here too, so every message names the full setting (``model.net.channels``)."""

    _target_: str = MISSING
    name: str = MISSING
    code_dim: int = MISSING
    code_l1: float = 0.0
    net: Any = MISSING
    optimizer: OptimizerSchema = field(default_factory=OptimizerSchema)
    scheduler: SchedulerSchema | None = None

    def __post_init__(self) -> None:
        positive("model.code_dim", self.code_dim)
        at_least_zero("model.code_l1", self.code_l1)
        positive("model.optimizer.lr", float(self.optimizer.lr))
        require(
            is_torch_class(self.optimizer._target_, "torch.optim.Optimizer"),
            "model.optimizer._target_",
            "a torch optimizer class (torch.optim.Adam, torch.optim.SGD, ...)",
            self.optimizer._target_,
        )
        if self.scheduler is not None:
            require(
                is_torch_class(self.scheduler._target_, "torch.optim.lr_scheduler.LRScheduler"),
                "model.scheduler._target_",
                "a torch learning-rate scheduler class (torch.optim.lr_scheduler.CosineAnnealingLR, ...)",
                self.scheduler._target_,
            )
        from autoencoders.models.base import ACTIVATIONS
        from autoencoders.models.conv import UPSAMPLING

        net = self.net
        one_of("model.net.activation", net.activation, sorted(ACTIVATIONS))
        if isinstance(net, DenseNetSchema):
            positive_list("model.net.hidden_dims", net.hidden_dims)
            if net.output_activation is not None:
                one_of("model.net.output_activation", net.output_activation, sorted(ACTIVATIONS))
        if isinstance(net, ConvNetSchema):
            positive_list("model.net.channels", net.channels)
            require(
                net.kernel_size > 0 and net.kernel_size % 2 == 1,
                "model.net.kernel_size",
                "an odd positive integer",
                net.kernel_size,
            )
            one_of("model.net.upsampling", net.upsampling, UPSAMPLING)


def is_torch_class(target: str, base: str) -> bool:
    """Whether ``target`` (a dotted path) names a subclass of ``base``, without building it."""
    found = import_object(target)
    base_class = import_object(base)
    return isinstance(found, type) and base_class is not None and issubclass(found, base_class)


def import_object(path: str) -> Any:
    module_name, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name, None)
    except (ImportError, ValueError):
        return None


# --- trainer, tracking, paths ----------------------------------------------------------------


@dataclass
class TrainerSchema:
    """Lightning's Trainer; its other arguments (``gradient_clip_val``, ...) pass through."""

    open: ClassVar[bool] = True
    _target_: str = MISSING
    accelerator: str = MISSING
    devices: Any = MISSING
    precision: str = MISSING
    max_epochs: int = MISSING
    check_val_every_n_epoch: int = 1
    num_nodes: int = 1

    def __post_init__(self) -> None:
        one_of("trainer.accelerator", self.accelerator, ACCELERATORS)
        devices = self.devices
        require(
            devices == "auto"
            or (isinstance(devices, int) and devices > 0)
            or (isinstance(devices, list) and devices),
            "trainer.devices",
            "a positive integer, a list of device indices or 'auto'",
            devices,
        )
        one_of("trainer.precision", str(self.precision), PRECISIONS)
        positive("trainer.max_epochs", self.max_epochs)
        positive("trainer.check_val_every_n_epoch", self.check_val_every_n_epoch)
        positive("trainer.num_nodes", self.num_nodes)


@dataclass
class TrackingSchema:
    uri: str = MISSING
    artifact_root: str | None = None
    experiment: str | None = None
    ui_url: str = MISSING

    def __post_init__(self) -> None:
        require(bool(self.uri), "tracking.uri", "a tracking URI (sqlite:///..., http://host:port)", self.uri)
        if self.experiment is not None:
            require(bool(self.experiment.strip()), "tracking.experiment", "a non-empty name", self.experiment)


@dataclass
class AnomalySchema:
    threshold_quantile: float = MISSING
    score: str = "reconstruction"

    def __post_init__(self) -> None:
        fraction("anomaly.threshold_quantile", self.threshold_quantile)
        from autoencoders.anomaly.scores import SCORES

        one_of("anomaly.score", self.score, SCORES)


@dataclass
class PathsSchema:
    root: str = MISSING
    mlruns: str = MISSING
    data: str = MISSING


# --- the stages' own keys --------------------------------------------------------------------


@dataclass
class SelectionKeys:
    optimized_metric: str = MISSING
    optimized_mode: str = MISSING
    run_name: str | None = None
    register_as: str | None = None

    def __post_init__(self) -> None:
        one_of("optimized_mode", self.optimized_mode, MODES)


@dataclass
class TrainKeys(SelectionKeys):
    seed: int = MISSING
    num_threads: int | None = None
    steps_per_call: int | None = None
    resume: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least_zero("seed", self.seed)
        for setting in ("num_threads", "steps_per_call"):
            if getattr(self, setting) is not None:
                positive(setting, getattr(self, setting))


@dataclass
class BaselineKeys(SelectionKeys):
    """The baseline stage's own keys; the method's settings are checked by its class (``conf/method``)."""

    seed: int = MISSING
    baseline_for: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least_zero("seed", self.seed)


@dataclass
class CompareKeys:
    experiments: list[str] | None = None
    metrics: list[str] = MISSING
    run_name: str | None = None

    def __post_init__(self) -> None:
        require(len(self.metrics) > 0, "metrics", "a non-empty list of metric names", list(self.metrics))


@dataclass
class ScoreKeys:
    model: str = MISSING
    input: str = MISSING
    output: str = MISSING
    keep: list[str] = field(default_factory=list)
    batch_size: int = MISSING

    def __post_init__(self) -> None:
        positive("batch_size", self.batch_size)


#: The schema of a group's option, by the ``_target_`` it builds.
BY_TARGET: dict[str, type] = {
    "autoencoders.data.spiral.SpiralDataModule": SpiralSchema,
    "autoencoders.data.mnist.MNISTDataModule": MNISTSchema,
    "autoencoders.data.table.TableDataModule": TableSchema,
    "autoencoders.data.image_folder.ImageFolderDataModule": ImageFolderSchema,
    "autoencoders.models.dense.DenseAutoencoder": DenseNetSchema,
    "autoencoders.models.conv.ConvAutoencoder": ConvNetSchema,
}
GROUPS: dict[str, type] = {
    "trainer": TrainerSchema,
    "tracking": TrackingSchema,
    "paths": PathsSchema,
    "anomaly": AnomalySchema,
}
STAGE_KEYS: dict[str, type] = {
    "train": TrainKeys,
    "baseline": BaselineKeys,
    "compare": CompareKeys,
    "score": ScoreKeys,
}


def register() -> None:
    """The schemas in Hydra's ConfigStore (group ``schema``), for ``--info`` and config tooling."""
    store = ConfigStore.instance()
    for schema in {*BY_TARGET.values(), *GROUPS.values(), *STAGE_KEYS.values(), ModelSchema}:
        store.store(group="schema", name=schema.__name__, node=schema)


#: The groups each stage builds from (the PCA stage reads only the model's code size).
STAGE_GROUPS = {
    "train": ("paths", "tracking", "anomaly", "dataset", "model", "trainer"),
    "baseline": ("paths", "tracking", "anomaly", "dataset"),
    "compare": ("paths", "tracking"),
    "score": (),
}


#: Dataset settings that may follow from the data (a table's width): null until it is read.
DATA_SETTINGS = ("input_shape", "epoch_size", "model_code_dim", "model_hidden_dims")


def data_pending(cfg: DictConfig) -> bool:
    """Whether some dataset setting waits for the data to be read (and what depends on it)."""
    return "dataset" in cfg and any(cfg.dataset.get(key, 0) is None for key in DATA_SETTINGS)


def check(cfg: DictConfig, stage: str) -> bool:
    """Check the groups a stage builds from and the stage's own keys against their schemas; the
    first bad value raises a ConfigError naming it. Nothing is built. While settings wait for the
    data (:func:`data_pending`), only what does not depend on them is checked: returns False, and
    the stage checks again once the data has filled them in."""
    if data_pending(cfg):
        for key in ("paths", "tracking"):
            validate(typed(GROUPS[key], resolved(cfg, key), key), key)
        values = resolved(cfg, "dataset")
        if schema := BY_TARGET.get(values.get("_target_")):
            validate(typed(schema, values, "dataset"), "dataset")
        return False
    for key in STAGE_GROUPS[stage]:
        values = resolved(cfg, key)
        if key in GROUPS:
            validate(typed(GROUPS[key], values, key), key)
        elif key == "dataset" and (schema := BY_TARGET.get(values.get("_target_"))):
            validate(typed(schema, values, key), key)
        elif key == "model":
            validate(typed_model(values), "model")
    own = {f.name for f in fields(STAGE_KEYS[stage])}
    validate(typed(STAGE_KEYS[stage], {k: resolved(cfg, k) for k in cfg if k in own}, ""))
    return True


def resolved(cfg: DictConfig, key: str) -> Any:
    """``cfg[key]`` as plain values, interpolations resolved; a broken one is a one-line error."""
    try:
        value = cfg[key]
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    except OmegaConfBaseException as error:
        raise ConfigError(one_line(error, "")) from None


def typed_model(values: dict[str, Any]) -> DictConfig:
    """The model's own settings typed first, then its network's by the schema of its ``_target_``."""
    net = values.get("net") or {}
    model = typed(ModelSchema, {**values, "net": {}}, "model")
    net_schema = BY_TARGET.get(net.get("_target_"))
    model.net = typed(net_schema, net, "model.net") if net_schema else net
    return model


def typed(schema: type, values: dict[str, Any], where: str) -> DictConfig:
    """``values`` merged onto ``schema``: OmegaConf checks each value's type."""
    try:
        return OmegaConf.merge(OmegaConf.structured(schema), known(schema, values))
    except OmegaConfBaseException as error:
        raise ConfigError(one_line(error, where)) from None


def known(schema: type, values: Any) -> Any:
    """``values`` less the keys an open schema (one whose extra keys pass through to a library,
    such as an optimizer's ``weight_decay``) does not declare, at every level."""
    if not isinstance(values, dict):
        return values
    types = {f.name: f.type for f in fields(schema)}
    kept = {k: v for k, v in values.items() if k in types or not getattr(schema, "open", False)}
    for name, value in kept.items():
        nested = NESTED.get((schema, name))
        if nested is not None:
            kept[name] = known(nested, value)
    return kept


#: Fields that hold another schema: what :func:`known` descends into.
NESTED = {(ModelSchema, "optimizer"): OptimizerSchema, (ModelSchema, "scheduler"): SchedulerSchema}


def validate(merged: DictConfig, where: str = "") -> None:
    """Ranges and names: building the schema's object runs its ``__post_init__``."""
    try:
        OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(one_line(error, where)) from None


TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false", "String": "a string"}


def one_line(error: OmegaConfBaseException, where: str) -> str:
    """OmegaConf's report in one line that names the full setting."""
    setting = ".".join(part for part in (where, str(error.full_key or "")) if part)
    message = str(error.msg or error).splitlines()[0]
    if "Missing mandatory value: " in message:  # ``???`` met while resolving another setting
        return f"{message.split('Missing mandatory value: ')[1].strip()} must be set"
    if isinstance(error, MissingMandatoryValue):
        return f"{setting} must be set"
    if isinstance(error, ConfigKeyError):
        return f"{setting}: no such setting"
    if isinstance(error, ValidationError) and "could not be converted to" in message:
        wanted = message.rsplit(" ", 1)[-1]
        value = message.split("'")[1] if "'" in message else "?"
        return f"{setting} must be {TYPE_WORDS.get(wanted, wanted)}, got {value}"
    return f"{setting}: {message}"
