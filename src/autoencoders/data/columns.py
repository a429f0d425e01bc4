"""The role of each column of a user's table, decided from the data and shown before a run trains:
what the model reads (features) and what it leaves out, and why. An id or a timestamp that became a
feature makes every new row look anomalous (new ids lie outside the training range)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import pandas as pd

from autoencoders.errors import ConfigError

log = logging.getLogger(__name__)

FEATURE, LABEL = "feature", "label"
ID_LIKE, CONSTANT, DATETIME, CATEGORICAL = "id-like", "constant", "datetime", "categorical"
EXCLUDED, NOT_LISTED = "excluded", "not listed"
#: Why a role is left out of the features, as the run's table says it.
LEFT_OUT = {
    ID_LIKE: "left out: unique or ever-increasing values name rows, they do not describe them",
    CONSTANT: "left out: one value carries nothing",
    DATETIME: "left out: dates and times (dataset.datetime_features=true uses their hour, weekday, month)",
    EXCLUDED: "left out: dataset.exclude",
    NOT_LISTED: "left out: not in dataset.features",
}


#: Text columns: how many values (a seeded draw) tell whether they are mostly numbers.
ROLE_SAMPLE = 10_000


def is_datetime(column: pd.Series) -> bool:
    """Text that reads as dates or times (90 % of the values or more)."""
    values = column.dropna().head(200).astype(str)
    if values.empty or pd.to_numeric(values, errors="coerce").notna().mean() > 0.5:
        return False
    with warnings.catch_warnings():  # pandas warns when it guesses a format per value
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.9


def is_id_like(column: pd.Series) -> bool:
    """Whole numbers or text whose every value differs, or whole numbers that only ever increase:
    row identifiers (``id``, ``transaction_id``), not measurements."""
    values = column.dropna()
    if len(values) < 2:
        return False
    whole = pd.api.types.is_integer_dtype(values) or (
        pd.api.types.is_float_dtype(values) and bool((values == values.round()).all())
    )
    text = pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
    if not (whole or text):
        return False
    return values.is_unique or (
        whole and values.is_monotonic_increasing and values.nunique() > len(values) // 2
    )


def is_mostly_numbers(column: pd.Series) -> bool:
    """Numbers stored as text (90 % of the values or more): a number column with stray text, such
    as ``?`` for a gap, which the run then names rather than taking the column as categories."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return True
    values = column.dropna()
    if len(values) > ROLE_SAMPLE:  # the share, from a fixed draw: a million texts parse in seconds
        values = values.sample(ROLE_SAMPLE, random_state=0)
    return not values.empty and pd.to_numeric(values, errors="coerce").notna().mean() >= 0.9


def is_constant(column: pd.Series) -> bool:
    """One value (or none) besides the gaps; a comparison with the first, not a count of the
    distinct values, which hashes every value (a million-row table: seconds over its columns)."""
    values = column.dropna()
    return values.empty or not bool((values != values.iloc[0]).any())


def role_of(column: pd.Series) -> str:
    if is_constant(column):
        return CONSTANT
    if is_mostly_numbers(column):
        return ID_LIKE if is_id_like(pd.to_numeric(column, errors="coerce")) else FEATURE
    if is_datetime(column):  # before ids: timestamps are unique text too
        return DATETIME
    return ID_LIKE if is_id_like(column) else CATEGORICAL


def listed_role(column: pd.Series) -> str:
    """A column the user listed in ``dataset.features``: numbers, dates or categories, by its values."""
    if is_mostly_numbers(column):
        return FEATURE
    return DATETIME if is_datetime(column) else CATEGORICAL


def column_roles(
    frame: pd.DataFrame,
    label: str | None,
    features: Sequence[str] | None,
    exclude: Sequence[str],
    categorical: Sequence[str] = (),
) -> dict[str, str]:
    """Each column's role, in the file's order. ``features`` (when given) are the features whatever
    they look like (numbers, dates or categories by their values); ``categorical`` are categories
    whatever they look like (codes written as numbers); ``exclude`` leaves columns out."""
    settings = {
        "dataset.features": features or [],
        "dataset.exclude": exclude,
        "dataset.categorical": categorical,
    }
    for setting, names in settings.items():
        for name in names:
            if name not in frame.columns:
                raise ConfigError(
                    f"{setting}: no column {name!r} (columns: {', '.join(map(str, frame.columns))})"
                )
    roles = {}
    for name in map(str, frame.columns):
        if name == label:
            roles[name] = LABEL
        elif name in exclude:
            roles[name] = EXCLUDED
        elif name in categorical:
            roles[name] = CATEGORICAL
        elif features is not None and name not in features:
            roles[name] = NOT_LISTED
        elif features is not None:
            roles[name] = listed_role(frame[name])
            looks = role_of(frame[name])
            if looks in (ID_LIKE, CONSTANT):
                log.warning("dataset.features: column %r looks %s; it stays a feature", name, looks)
        else:
            roles[name] = role_of(frame[name])
    return roles


def used_roles(datetime_features: bool) -> tuple[str, ...]:
    """The roles that become model inputs."""
    return (FEATURE, CATEGORICAL, DATETIME) if datetime_features else (FEATURE, CATEGORICAL)


def roles_table(
    roles: dict[str, str], frame: pd.DataFrame, datetime_features: bool = False
) -> list[dict[str, str]]:
    """One row per column: its role, its type in the file, and what the run does with it."""
    does = {
        FEATURE: "model input",
        CATEGORICAL: "model input: one-hot of its most frequent values, the rest as (other)",
        LABEL: "says which rows are anomalies (validation and test only)",
    }
    if datetime_features:
        does[DATETIME] = "model input: its hour, weekday and month"
    return [
        {
            "column": name,
            "role": role,
            "dtype": str(frame[name].dtype),
            "use": does.get(role) or LEFT_OUT[role],
        }
        for name, role in roles.items()
    ]
