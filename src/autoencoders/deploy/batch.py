"""Batch scoring with a logged detector: read a file, score it in batches, write the result whole.

The input is checked by the detector's own rules first (columns, numbers, missing values), so a
bad file stops with one line naming its row or column before anything is written; the output goes
to a temporary file beside its final name and is moved into place when complete.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoencoders.errors import ConfigError, InputError
from autoencoders.util.files import WRITERS, read_table, write_frame

log = logging.getLogger(__name__)


def read_input(path: Path) -> pd.DataFrame | np.ndarray:
    """A CSV or Parquet file as a DataFrame, a ``.npy`` file as an array (no pickles)."""
    if path.suffix.lower() == ".npy" and path.is_file():
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as error:  # numpy raises many kinds
            raise ConfigError(f"input={path}: could not be read ({type(error).__name__})") from None
    else:
        data = read_table(path, "input")
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
    on inputs of more than one batch. The output: the input's columns (the training file's own
    format: ids, labels, dates ride along unchanged; ``keep`` narrows which besides the model's),
    then the scores. Arrays: the scores only."""
    from tqdm.auto import tqdm

    detector = model.unwrap_python_model().detector
    if isinstance(data, pd.DataFrame):
        absent = [name for name in keep if name not in data.columns]
        if absent:
            raise ConfigError(f"keep: no column {absent[0]!r} in the input")
        used = set(detector.spec.columns)
        if keep:
            data = data[[name for name in data.columns if name in used or name in keep]]
        features = data[[name for name in data.columns if name in used]]
        lines = features.set_axis(np.arange(len(data)) + 2)  # as an editor numbers them: header 1
        # Checked once (one line naming a bad line or column, before any scoring) and typed as the
        # signature takes them: MLflow's schema refuses int64 where the model logged float64.
        taken = detector.checked(lines, "line").set_axis(data.index)
    else:
        taken = detector.checked(data)
    if detector.series is not None:  # a series scores whole: its windows cross any batch's edge
        batch_size = len(taken)
    parts = []
    starts = range(0, len(taken), batch_size)
    for start in tqdm(starts, desc="scoring", unit="batch", disable=len(starts) < 2):
        parts.append(model.predict(taken.iloc[start : start + batch_size]))
    scores = pd.concat(parts)
    scores.index = taken.index
    if not isinstance(data, pd.DataFrame):
        return scores
    return pd.concat([renamed_apart(data, list(scores.columns)), scores], axis=1)


def renamed_apart(data: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """The input's columns, those named like an output column (a label called ``is_anomaly``)
    renamed ``input_<name>``, so that the output's columns are each named once."""
    clashes = {name: f"input_{name}" for name in data.columns if name in outputs}
    if clashes:
        said = ", ".join(f"{old} -> {new}" for old, new in clashes.items())
        log.warning("input columns named like the detector's output are renamed: %s", said)
    return data.rename(columns=clashes)


def score_file(
    model_uri: str, tracking_uri: str, paths: tuple[Path, Path], batch_size: int, keep: list[str]
) -> int:
    """Load the detector (nothing unpickled), score the input file in batches, write the output
    whole; ``paths``: (input, output). Prints what it did; returns the number of rows scored."""
    source, output = paths
    check_output(output)
    data = read_input(source)
    model = load_model(model_uri, tracking_uri)
    started = time.perf_counter()
    scored = score_batches(model, data, batch_size, keep)
    series = model.unwrap_python_model().detector.series
    found = series_intervals(scored, series.time, output) if series is not None else None
    write_frame(scored, output)
    seconds = time.perf_counter() - started
    said = f"; {len(found[0])} flagged intervals in {found[1]}" if found is not None else ""
    print(
        f"scored {len(scored)} rows in {seconds:.2f} s ({len(scored) / seconds:,.0f} rows/s): "
        f"{int(scored['is_anomaly'].sum())} anomalous; wrote {output}{said}"
    )
    return len(scored)


def series_intervals(scored: pd.DataFrame, time: str | None, output: Path) -> tuple[pd.DataFrame, Path]:
    """A scored series' flagged intervals, written beside the output as ``<stem>.intervals<suffix>``
    (start and end in the file's time column where it has one, else as row positions)."""
    from autoencoders.deploy.series import flagged_intervals

    found = flagged_intervals(scored, scored[time] if time in scored.columns else None)
    path = output.with_name(f"{output.stem}.intervals{output.suffix}")
    write_frame(found, path)
    return found, path


def load_model(model_uri: str, tracking_uri: str) -> Any:
    """The logged detector as an MLflow pyfunc model, nothing unpickled; a one-line error when
    ``model_uri`` names none."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    from autoencoders.tracking.models import fluent_store
    from autoencoders.tracking.store import prepare_store

    prepare_store(tracking_uri)
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    try:
        with fluent_store(tracking_uri):
            return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"model_uri={model_uri}: no such model ({first[:200]})") from None
