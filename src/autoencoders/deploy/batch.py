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
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autoencoders.errors import ConfigError, InputError
from autoencoders.util.files import WRITERS, atomic_file, is_parquet, read_table, write_frame

if TYPE_CHECKING:
    from autoencoders.data.streaming import ParquetSource

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
        lines = features.set_axis(data.index.to_numpy() + 2)  # as an editor numbers them: header 1
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
    """Load the detector (nothing unpickled), score the input file in batches, write the output;
    ``paths``: (input, output). A Parquet input is read and written a chunk at a time (whatever its
    size, memory holds one), a CSV input whole, as is a series (its windows cross any chunk's
    edge). Prints what it did; returns the number of rows scored."""
    source, output = paths
    check_output(output)
    rows = opened_parquet(source)  # opened and checked, not read: bad input fails before the model loads
    data = read_input(source) if rows is None else None
    model = load_model(model_uri, tracking_uri)
    if rows is not None:
        if model.unwrap_python_model().detector.series is None:
            return score_streamed(model, rows, output, batch_size, keep)
        data = read_input(source)
    started = time.perf_counter()
    scored = score_batches(model, data, batch_size, keep)
    series = model.unwrap_python_model().detector.series
    found = series_intervals(scored, series.time, output) if series is not None else None
    write_frame(scored, output)
    said = f"; {len(found[0])} flagged intervals in {found[1]}" if found is not None else ""
    said_scored(
        len(scored), int(scored["is_anomaly"].sum()), time.perf_counter() - started, f"{output}{said}"
    )
    return len(scored)


def said_scored(rows: int, anomalous: int, seconds: float, wrote: str) -> None:
    print(
        f"scored {rows} rows in {seconds:.2f} s ({rows / seconds:,.0f} rows/s): {anomalous} anomalous; "
        f"wrote {wrote}"
    )


class ChunkWriter:
    """Frames appended to one output stream: CSV (one header), or Parquet (a row group each, every
    one in the first's schema: a chunk whose text column holds only gaps keeps its type)."""

    def __init__(self, stream: IO[bytes], csv: bool) -> None:
        self.stream, self.csv = stream, csv
        self.written = 0
        self.parquet: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.csv:
            frame.to_csv(self.stream, header=self.written == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = self.parquet.schema if self.parquet else None
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            self.parquet = self.parquet or pq.ParquetWriter(self.stream, table.schema)
            self.parquet.write_table(table)
        self.written += len(frame)

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, *raised: object) -> None:
        if self.parquet is not None:
            self.parquet.close()


def opened_parquet(source: Path) -> ParquetSource | None:
    """A Parquet input (a file or a folder of them) opened to be read a chunk at a time; None for
    the other inputs, which are read whole."""
    from autoencoders.data.streaming import ParquetSource

    if not is_parquet(source):
        return None
    rows = ParquetSource(source, "input")
    if rows.n_rows == 0:
        raise InputError(f"input={source} is empty: no rows to score")
    return rows


def score_streamed(model: Any, rows: ParquetSource, output: Path, batch_size: int, keep: list[str]) -> int:
    """A Parquet input scored a chunk (of a row group) at a time, each scored chunk appended to the
    output; a bad line stops it with its line number, and the output appears whole or not at all."""
    from tqdm.auto import tqdm

    started, anomalous = time.perf_counter(), 0
    chunks = -(-rows.n_rows // rows.chunk_rows)
    with atomic_file(output) as stream, ChunkWriter(stream, output.suffix.lower() == ".csv") as writer:
        for chunk in tqdm(rows.chunks(None), desc="scoring", unit="chunk", total=chunks, disable=chunks < 2):
            scored = score_batches(model, chunk, batch_size, keep)
            anomalous += int(scored["is_anomaly"].sum())
            writer.write(scored)
    said_scored(rows.n_rows, anomalous, time.perf_counter() - started, str(output))
    return rows.n_rows


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
    import mlflow.artifacts
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    from autoencoders.tracking.models import fluent_store
    from autoencoders.tracking.store import prepare_store

    prepare_store(tracking_uri)
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    try:
        with fluent_store(tracking_uri):
            local = mlflow.artifacts.download_artifacts(model_uri)
            # MLflow's own check of the requirements maps every installed distribution to its
            # modules first (1-1.5 s of a 5 s scoring command here); the pinned ones are checked
            # by name instead, with the same warning.
            warn_of_other_versions(Path(local) / "requirements.txt")
            return mlflow.pyfunc.load_model(local, suppress_warnings=True)
    except (MlflowException, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"model_uri={model_uri}: no such model ({first[:200]})") from None


def warn_of_other_versions(requirements: Path) -> list[str]:
    """Warn of each pinned requirement (``name==version``) of a logged model that this environment
    does not have at that version: a detector scores as it was evaluated only with the libraries
    it was saved with. Returns the warnings."""
    from importlib.metadata import PackageNotFoundError, version

    said = []
    lines = requirements.read_text().splitlines() if requirements.is_file() else []
    for name, _, pinned in (line.strip().partition("==") for line in lines):
        if not pinned:
            continue
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed.split("+")[0] != pinned.split("+")[0]:
            said.append(f"the detector was saved with {name}=={pinned}; here: {installed}")
    for line in said:
        log.warning("%s (its scores may differ from the run's)", line)
    return said
