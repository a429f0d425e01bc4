"""Which of several models is best: one metric and its direction (``optimized_metric`` and
``optimized_mode``), used by the checkpoint, the value returned to sweepers and a sweep's best job.

A training run chooses among its epochs: it records the chosen checkpoint's value as
``<metric>/best`` (``val/loss/best``), so that every reader takes the value of the model that was
evaluated and logged, not the last epoch's. Under the metric's own prefix, MLflow's chart view files it
with the metric (runs of older versions recorded ``best/<metric>``, which sorted before ``test/``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from autoencoders.errors import ConfigError

T = TypeVar("T")
MODES = ("min", "max")
BEST_SUFFIX = "/best"
LEGACY_BEST_PREFIX = "best/"  # how runs of older versions named it


def best_name(metric: str) -> str:
    """What a chosen model's value of ``metric`` is recorded as: ``val/loss/best``."""
    return metric + BEST_SUFFIX


def selected_value(metrics: Mapping[str, float], metric: str) -> float | None:
    """The evaluated model's value of ``metric`` among a run's metrics: ``<metric>/best`` where the
    run chose among epochs (``best/<metric>`` on older runs), else ``<metric>``; None when missing
    or not finite."""
    value = metrics.get(best_name(metric), metrics.get(LEGACY_BEST_PREFIX + metric, metrics.get(metric)))
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Selection:
    metric: str
    mode: str = "min"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"optimized_mode must be one of {list(MODES)}, got {self.mode!r}")

    @property
    def best_key(self) -> str:
        """The metric a training run records its chosen checkpoint's value under."""
        return best_name(self.metric)

    def best(self, candidates: Iterable[T], value: Callable[[T], float | None]) -> T | None:
        """The candidate with the lowest (``min``) or highest (``max``) value; None if none has one."""
        scored = [(found, candidate) for candidate in candidates if (found := value(candidate)) is not None]
        if not scored:
            return None
        pick = min if self.mode == "min" else max
        return pick(scored, key=lambda pair: pair[0])[1]


#: About this many validations (and checkpoint chances) per training, whatever its length.
VALIDATIONS_PER_RUN = 20


def epoch_stride(max_epochs: int) -> int:
    """Validate, and consider a checkpoint, every this many epochs: ~20 times a run, the last
    epoch included when ``max_epochs`` is a multiple. Why: a validation has a fixed cost even on 100
    points, which on the spiral outweighed its optimizer steps (docs/performance.md)."""
    return max(1, int(max_epochs) // VALIDATIONS_PER_RUN)
