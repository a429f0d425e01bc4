"""Files in and out, once for the whole project: reading a user's table, writing a file whole
(complete or absent, never half-written), and Markdown tables."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

from autoencoders.errors import ConfigError

#: Table formats by file suffix: what a dataset reads and what the scorer reads and writes.
READERS: dict[str, Callable[..., pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
}
WRITERS = {".csv": "to_csv", ".parquet": "to_parquet", ".pq": "to_parquet"}


PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    """A Parquet file by its name, or a folder holding Parquet files."""
    return path.suffix.lower() in PARQUET_SUFFIXES or (path.is_dir() and any(path.rglob("*.parquet")))


def read_table(path: Path, setting: str) -> pd.DataFrame:
    """A CSV or Parquet file (or a folder of Parquet files, in path order) as a DataFrame, or a
    one-line error naming ``setting`` (``dataset.path``)."""
    parts = sorted(path.rglob("*.parquet")) if path.is_dir() else []
    if parts:
        return pd.concat([read_table(part, setting) for part in parts], ignore_index=True)
    if not path.is_file():
        raise ConfigError(f"{setting}={path}: no such file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ConfigError(f"{setting}={path}: unreadable format {path.suffix!r}; use a .csv or .parquet file")
    try:
        return reader(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as error:  # pandas and pyarrow raise many kinds: all mean "not this format"
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConfigError(f"{setting}={path}: could not be read ({type(error).__name__}: {first})") from None


def umask_mode(folder: bool = False) -> int:
    """The mode ``open`` (or ``mkdir``) would give a new file (folder) under the user's umask:
    ``mkstemp`` and ``mkdtemp`` make theirs private (0600, 0700), which a shared output is not."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def partial_prefix(path: Path) -> str:
    """How the temporary file or folder that becomes ``path`` is named: ``.<name>.partial-XXXXXXXX``,
    hidden and without ``path``'s suffix, so that what a killed process (SIGKILL, a power cut) leaves
    behind matches no ``*.csv`` or ``*.parquet`` pattern, not even pathlib's, which matches hidden files."""
    return f".{path.name}.partial-"


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream to a temporary file beside ``path``, renamed into place when the block ends
    without error (and removed when it does not, SIGTERM and Ctrl-C included): a reader never sees
    half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=partial_prefix(path))
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.chmod(temporary, umask_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` that takes its place (replacing what was there) when the
    block ends without error, and is removed when it does not: a folder of outputs is the new one,
    complete, or the old one as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=partial_prefix(path)))
    try:
        yield temporary
        temporary.chmod(umask_mode(folder=True))
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old."))
            os.replace(path, old / path.name)
            os.replace(temporary, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as the CSV or Parquet file ``path`` names, written whole."""
    with atomic_file(path) as stream:
        getattr(frame, WRITERS[path.suffix.lower()])(stream, index=False)


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; a ``|`` inside a cell becomes ``/`` so that it cannot split the cell."""

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "/") for cell in cells) + " |"

    return "\n".join([line(header), "| --- " * len(header) + "|", *map(line, rows)])


def remove_job_folder(folder: Path, written: Sequence[str], launch: Path) -> None:
    """Remove ``written`` (files or folders) from a job's output ``folder``, then the folders left
    empty by that, up to the ``launch`` directory; anything else stays."""
    for name in filter(None, written):
        if (folder / name).is_dir():
            shutil.rmtree(folder / name, ignore_errors=True)
        else:
            (folder / name).unlink(missing_ok=True)
    launch = launch.resolve()
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
        folder = folder.parent.resolve()
        while launch in folder.parents:  # outputs/<date>, left empty
            folder.rmdir()
            folder = folder.parent
