"""Batch scoring with a logged detector: read a file, score it in batches, write the result whole.

The input is checked by the detector's own rules first (columns, numbers, missing values), so a
bad file stops with one line naming its row or column before anything is written; the output goes
to a temporary file beside its final name and is moved into place when complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoencoders.errors import ConfigError, InputError

READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}
WRITERS = {".csv": "to_csv", ".parquet": "to_parquet", ".pq": "to_parquet"}


def read_input(path: Path) -> pd.DataFrame | np.ndarray:
    """A CSV or Parquet file as a DataFrame, a ``.npy`` file as an array (no pickles)."""
    if not path.is_file():
        raise ConfigError(f"input={path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (*READERS, ".npy"):
        raise ConfigError(f"input={path}: unreadable format {suffix!r}; use .csv, .parquet or .npy")
    try:
        data = np.load(path, allow_pickle=False) if suffix == ".npy" else READERS[suffix](path)
    except pd.errors.EmptyDataError:
        data = pd.DataFrame()
    except Exception as error:  # pandas, pyarrow and numpy raise many kinds
        raise ConfigError(f"input={path}: could not be read ({type(error).__name__})") from None
    if len(data) == 0:
        raise InputError(f"input={path} is empty: no rows to score")
    return data


def check_output(path: Path) -> None:
    if path.suffix.lower() not in WRITERS:
        raise ConfigError(f"output={path}: use a .csv or .parquet file name")
    if not path.parent.is_dir():
        raise ConfigError(f"output={path}: no folder {path.parent}")


def score_batches(
    model: Any, data: pd.DataFrame | np.ndarray, batch_size: int, keep: list[str]
) -> pd.DataFrame:
    """``data`` scored by ``model`` (an MLflow pyfunc detector) in batches, with a progress bar
    on inputs of more than one batch; the input's columns first (arrays: none), then the scores."""
    from tqdm.auto import tqdm

    detector = model.unwrap_python_model().detector
    if isinstance(data, pd.DataFrame):
        absent = [name for name in keep if name not in data.columns]
        if absent:
            raise ConfigError(f"keep: no column {absent[0]!r} in the input")
        taken = data.drop(columns=keep)
        extra = [str(name) for name in taken.columns if name not in set(detector.spec.columns)]
        if extra:
            raise InputError(
                f"input has columns the detector does not take: {', '.join(extra)}; list them in "
                f"keep=[{','.join(extra)}] to carry them into the output, or drop them"
            )
    else:
        taken = detector.to_raw(detector.matrix(data).reshape(len(data), *detector.spec.input_shape))
    detector.matrix(taken)  # one line naming the row or column, before anything is scored
    parts = []
    starts = range(0, len(taken), batch_size)
    for start in tqdm(starts, desc="scoring", unit="batch", disable=len(starts) < 2):
        parts.append(model.predict(taken.iloc[start : start + batch_size]))
    scores = pd.concat(parts)
    scores.index = taken.index
    return pd.concat([data, scores], axis=1) if isinstance(data, pd.DataFrame) else scores


def write_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` next to ``path`` and rename it into place: the output is complete or absent."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        getattr(frame, WRITERS[path.suffix.lower()])(temporary, index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
