"""Settings checked where they are used: each class declares its parameters' constraints beside its
constructor (scikit-learn's ``_parameter_constraints``) and checks them there, so the yaml holds the
default and the object the rule. The Hydra glue adds the config path (``dataset.``) to the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from autoencoders.errors import ConfigError


class InvalidParameter(ConfigError):
    """One setting out of its range: ``<name> must be <allowed>, got <value>``."""

    def __init__(self, name: str, allowed: str, value: Any) -> None:
        self.name, self.allowed, self.value = name, allowed, value
        super().__init__(f"{name} must be {allowed}, got {value!r}")

    def __reduce__(self) -> tuple:  # a failed multirun job's error travels back to Hydra pickled
        return type(self), (self.name, self.allowed, self.value)

    def under(self, prefix: str) -> InvalidParameter:
        """The same message with the setting's full config path."""
        return self.under_name(f"{prefix}.{self.name}" if prefix else self.name)

    def under_name(self, name: str) -> InvalidParameter:
        return InvalidParameter(name, self.allowed, self.value)


def is_number(value: Any, kind: type) -> bool:
    """``value`` is an int (``kind=int``) or any real number (``kind=float``); never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind is int else isinstance(value, Real)


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` between ``low`` and ``high`` (None: unbounded), ends included per
    ``closed``: ``both``, ``left``, ``right`` or ``neither``."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __call__(self, value: Any) -> bool:
        if not is_number(value, self.kind):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        above = self.low is None or (value >= self.low if left else value > self.low)
        below = self.high is None or (value <= self.high if right else value < self.high)
        return above and below

    def __str__(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        if self.high is None and self.low is not None:
            if self.low == 0 and self.closed in ("neither", "right"):
                return "a positive integer" if self.kind is int else "a positive number"
            if self.low == 1 and self.kind is int and self.closed in ("both", "left"):
                return "a positive integer"
            return "0 or more" if self.low == 0 else f"{noun} of at least {self.low:g}"
        if self.low is not None and self.high is not None:
            ends = {"neither": " (exclusive)", "both": ""}.get(self.closed, f" ({self.closed} end included)")
            return f"between {self.low:g} and {self.high:g}{ends}"
        return noun


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def __call__(self, value: Any) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return f"one of {list(self.values)}"


@dataclass(frozen=True)
class Text:
    """A non-empty string."""

    def __call__(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def __str__(self) -> str:
        return "a non-empty name"


@dataclass(frozen=True)
class ListOf:
    """A non-empty list whose every item meets ``item``, described as ``noun``; ``length``: exactly
    that many items."""

    item: Any
    noun: str = "values"
    length: int | None = None
    empty: bool = False  # an empty list is allowed

    def __call__(self, value: Any) -> bool:
        if isinstance(value, str) or not isinstance(value, Sequence) or not (value or self.empty):
            return False
        return (self.length is None or len(value) == self.length) and all(self.item(v) for v in value)

    def __str__(self) -> str:
        if self.length:
            return f"a list of {self.length} {self.noun}"
        return f"a list of {self.noun}" if self.empty else f"a non-empty list of {self.noun}"


@dataclass(frozen=True)
class Anything:
    """Any value (an item of a list whose items are free)."""

    def __call__(self, value: Any) -> bool:
        return True

    def __str__(self) -> str:
        return "values"


POSITIVE_INT = Interval(int, 1)
POSITIVE_INTS = ListOf(POSITIVE_INT, "positive integers")
NAMES = ListOf(Text(), "names")
NON_NEGATIVE_INT = Interval(int, 0)
POSITIVE = Interval(float, 0, closed="right")
NON_NEGATIVE = Interval(float, 0)
FRACTION = Interval(float, 0, 1, closed="neither")
PROBABILITY = Interval(float, 0, 1)


def check_params(constraints: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Check each value against its constraint; a list of constraints allows any of them, ``None``
    among them allows None. The first failure raises :class:`InvalidParameter`."""
    for name, rule in constraints.items():
        value = values[name]
        rules = rule if isinstance(rule, list) else [rule]
        if any((r is None and value is None) or (r is not None and r(value)) for r in rules):
            continue
        allowed = " or ".join("null" if r is None else str(r) for r in rules)
        raise InvalidParameter(name, allowed, value)
