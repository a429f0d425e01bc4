"""The benchmark suite: the pipeline side by side with what a user would write by hand.

``make bench`` (everything, about 25 minutes on a 2-core CPU) and ``make bench-quick`` (smaller sizes, a
few minutes) print a table and write JSON under ``benchmarks/results/``: the machine, versions, commit,
threads and device, and ``rows``, each ``{name, ours, peer, unit, ratio}``. For times ``ratio`` is ours
over peer (1.3: the pipeline takes 30% longer; lower is better); for rates (samples or rows per second)
it is the time ratio too, peer's rate over ours; for quality rows it is ours over peer in that unit.
Timings are medians of alternating repeats in one sitting; nothing here asserts a time.

Run: ``.venv/bin/python -m benchmarks.suite [--quick] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from autoencoders.util.console import quiet_libraries
from benchmarks import report
from pipelines.hydra_glue import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "results"
PLAIN_SPIRAL = PROJECT_ROOT / "benchmarks" / "plain_spiral.py"
PLAIN_SCORE = PROJECT_ROOT / "benchmarks" / "plain_score.py"
PLAIN_TABLE = PROJECT_ROOT / "benchmarks" / "plain_table.py"
PEAK = PROJECT_ROOT / "benchmarks" / "peak.py"


@dataclass
class Row:
    name: str
    ours: float
    peer: float
    unit: str
    ratio: float
    note: str = ""


def time_row(name: str, ours_s: float, peer_s: float, note: str = "") -> Row:
    return Row(name, round(ours_s, 3), round(peer_s, 3), "s", round(ours_s / peer_s, 3), note)


def rate_row(name: str, unit: str, ours: float, peer: float, note: str = "") -> Row:
    """Rates: higher is better, so the time ratio is peer over ours."""
    return Row(name, round(ours, 1), round(peer, 1), unit, round(peer / ours, 3), note)


def alternate(ours: Callable[[], float], peer: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Medians of ``repeats`` timings of each, taken in turn: drift and noise hit both alike."""
    ours_s, peer_s = in_turn([ours, peer], repeats)
    return ours_s, peer_s


def in_turn(sides: list[Callable[[], float]], repeats: int) -> list[float]:
    """:func:`alternate` for any number of sides: each one's median over ``repeats`` rounds, the
    order reversed every other round (A B, B A, A B, ...), so that a machine warming up or slowing
    down over the rounds does not favour the side that runs last."""
    timings: list[list[float]] = [[] for _ in sides]
    for round_number in range(repeats):
        order = list(zip(sides, timings, strict=True))
        for side, taken in order if round_number % 2 == 0 else reversed(order):
            taken.append(side())
    return [statistics.median(taken) for taken in timings]


def wall(command: list[str]) -> float:
    """Seconds from a command's start to its exit; a failure stops the suite."""
    return measured_process(command)[0]


# --- 1. the spiral's training loop ------------------------------------------------------------


def spiral_loop(epochs: int, repeats: int) -> Row:
    """The pipeline's fit (its module, datamodule, trainer config, callbacks and steps per call:
    validation every 10th epoch, checkpoints, no progress bar as off a terminal; then the best
    checkpoint's weights loaded) against a plain loop with the same network, Adam, cosine
    schedule, full batches, steps and threads. The plain loop runs after the pipeline's first fit,
    which leaves the process as a plain one would be (:func:`skip_failing_nvml_checks`)."""
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.loggers import CSVLogger

    from autoencoders.training.fit import fit_best, training_callbacks
    from autoencoders.training.grouped_steps import group_steps
    from autoencoders.training.selection import Selection
    from benchmarks.throughput import plain_loop
    from pipelines.hydra_glue import build, compose_config

    cfg = compose_config("train", [f"trainer.max_epochs={epochs}"])
    datamodule = build(cfg.dataset)
    datamodule.prepare_data()
    pl.seed_everything(0, verbose=False)
    initial = build(cfg.model)
    data = datamodule._tensor("train")
    steps_per_epoch = datamodule.steps_per_epoch

    def ours() -> float:
        module = copy.deepcopy(initial)
        with tempfile.TemporaryDirectory() as folder:
            checkpoint, callbacks = training_callbacks(
                datamodule,
                Path(folder),
                cfg.trainer.check_val_every_n_epoch,
                Selection("val/loss", "min"),
                False,
            )
            trainer = build(
                cfg.trainer,
                default_root_dir=folder,
                callbacks=callbacks,
                logger=CSVLogger(folder),
                enable_progress_bar=False,
            )
            group_steps(module, datamodule, trainer, cfg.steps_per_call)
            start = time.perf_counter()
            fit_best(module, datamodule, trainer, checkpoint)
            return time.perf_counter() - start

    def peer() -> float:
        net = copy.deepcopy(initial.net)
        steps = epochs * steps_per_epoch
        return plain_loop(net, data, len(data), steps, cfg.model.optimizer.lr, epochs, steps_per_epoch)

    ours_s, peer_s = alternate(ours, peer, repeats)
    return time_row(
        "spiral loop",
        ours_s,
        peer_s,
        f"{epochs * steps_per_epoch} steps, {torch.get_num_threads()} thread(s)",
    )


# --- 2. the spiral end to end -----------------------------------------------------------------


@contextmanager
def timed(laps: dict[str, float], name: str, module: object, function: str):
    """Wrap ``module.function`` so that its calls add their seconds to ``laps[name]``."""
    original = getattr(module, function)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            laps[name] = laps.get(name, 0.0) + time.perf_counter() - start

    setattr(module, function, wrapper)
    try:
        yield
    finally:
        setattr(module, function, original)


def pipeline_breakdown(overrides: list[str]) -> dict[str, float]:
    """Where the pipeline's time goes: imports (a separate process), then one in-process run with
    its stages timed: setup (config, data, model, MLflow run), fit, evaluation and figures, the
    detector's MLflow model."""
    python = sys.executable
    load = "from benchmarks.plain_spiral import import_the_pipeline; import_the_pipeline()"
    imports = wall([python, "-c", load]) - wall([python, "-c", "pass"])
    from autoencoders import stages
    from pipelines.hydra_glue import compose_config
    from pipelines.train import train

    laps: dict[str, float] = {}
    cfg = compose_config("train", overrides)
    start = time.perf_counter()
    with (
        timed(laps, "fit", stages, "fit_best"),
        timed(laps, "evaluation, figures and their logging", stages, "record_evaluation"),
        timed(laps, "detector (MLflow model)", stages, "record_detector"),
    ):
        train(cfg)
    total = time.perf_counter() - start
    return {"imports": imports, "setup before the first step": total - sum(laps.values()), **laps}


def spiral_end_to_end(epochs: int, repeats: int, store: Path) -> tuple[Row, dict[str, float]]:
    """``python -m pipelines.train`` with its defaults against ``benchmarks/plain_spiral.py``, each
    from process start to exit."""
    from autoencoders.tracking.store import prepare_store

    overrides = [f"paths.mlruns={store}", f"hydra.run.dir={store}/run", f"trainer.max_epochs={epochs}"]
    # The store's tables made first, as in a store in use: creating them costs the first run seconds.
    prepare_store(f"sqlite:///{store}/mlflow.db").search_experiments()
    ours_s, peer_s = alternate(
        lambda: wall([sys.executable, "-m", "pipelines.train", *overrides]),
        lambda: wall([sys.executable, str(PLAIN_SPIRAL), "--epochs", str(epochs), "--threads", "1"]),
        repeats,
    )
    breakdown = pipeline_breakdown([o for o in overrides if not o.startswith("hydra.")])
    breakdown["the rest: Hydra's job, interpreter start and exit"] = ours_s - sum(breakdown.values())
    return time_row("spiral end to end", ours_s, peer_s, f"{epochs} epochs, process start to exit"), breakdown


def spiral_import_floor(epochs: int, repeats: int) -> Row:
    """The plain script after importing the pipeline's libraries against the plain script alone:
    what those imports cost before the pipeline does anything, the floor of its end-to-end ratio."""
    plain = [sys.executable, str(PLAIN_SPIRAL), "--epochs", str(epochs), "--threads", "1"]
    ours_s, peer_s = alternate(
        lambda: wall([*plain, "--with-pipeline-imports"]), lambda: wall(plain), repeats
    )
    return time_row(
        "spiral end to end, the imports alone", ours_s, peer_s, "plain script + the pipeline's imports"
    )


# --- 3. the conv autoencoder on MNIST, and scoring ----------------------------------------------


def conv_loop(steps: int, repeats: int, device: str = "cpu") -> Row:
    """Training images per second: the project's Lightning loop against a plain loop (same network,
    batch, threads, the datamodule's one-pixel shifts; validation and checkpoints off on both
    sides). ``device`` ``cuda``: both on the GPU, the images held there (no host-to-device copy
    per step)."""
    import torch

    from autoencoders.data.augment import random_shifts
    from autoencoders.models.conv import ConvAutoencoder
    from benchmarks.throughput import lightning_loop, plain_loop
    from pipelines.hydra_glue import build, compose_config

    datamodule = build(compose_config("train", ["dataset=mnist", "dataset.source=bundled"]).dataset)
    datamodule.prepare_data()
    data = datamodule._tensor("train").to(device)

    model = compose_config("train", ["model=conv"]).model
    optimizer = build(model.optimizer)  # the project's settings, as a run builds them

    def network() -> ConvAutoencoder:
        torch.manual_seed(0)
        return build(model.net)

    accelerator = "gpu" if device == "cuda" else "cpu"
    generator = torch.Generator().manual_seed(0)

    def shifted(batch: torch.Tensor) -> torch.Tensor:  # the datamodule's training augmentation
        return random_shifts(batch, datamodule.augment_shift, generator)

    def peer() -> float:
        return plain_loop(network().to(device), data, datamodule.batch_size, steps, augment=shifted)

    # Both sides once, untimed: a process's first conv steps run slower (both sides' first timed
    # rounds were up to 1.6x their later ones), and a training runs far longer than this row.
    lightning_loop(network(), datamodule, steps, optimizer, accelerator)
    peer()
    ours_s, peer_s = alternate(
        lambda: lightning_loop(network(), datamodule, steps, optimizer, accelerator), peer, repeats
    )
    images = steps * datamodule.batch_size
    where = torch.cuda.get_device_name(0) if device == "cuda" else f"{torch.get_num_threads()} thread(s)"
    note = f"{steps} steps of {datamodule.batch_size}, {where}"
    name = "conv loop (MNIST)" if device == "cpu" else f"conv loop (MNIST, {device})"
    return rate_row(name, "images/s", images / ours_s, images / peer_s, note)


def scoring(store: Path, rows: int, repeats: int) -> list[Row]:
    """Rows per second through the logged detector (``mlflow.pyfunc``, the spiral run's) against
    the same network's forward pass and squared error in plain torch; and against the network
    passes its score needs (:meth:`AutoencoderDetector.passes`: for RaPP the encoder again on the
    reconstruction), timed bare: what the detector's own work (checks, frames, the score from
    those passes) adds."""
    import mlflow
    import numpy as np
    import pandas as pd
    import torch

    from autoencoders.tracking.models import fluent_store

    with fluent_store(f"sqlite:///{store}/mlflow.db"):  # not left in the environment of later commands
        run = mlflow.search_runs(search_all_experiments=True, order_by=["start_time DESC"], max_results=1)
        model = mlflow.pyfunc.load_model(f"runs:/{run.run_id[0]}/anomaly_detector")
    points = np.random.default_rng(0).uniform(-3, 3, size=(rows, 2))
    frame = pd.DataFrame(points, columns=["x0", "x1"])
    detector = model.unwrap_python_model().detector.detector  # the same weights, for the plain side
    net = detector.codec.module
    tensor = torch.as_tensor(points, dtype=torch.float32)

    def seconds(work: Callable[[], object]) -> Callable[[], float]:
        def timing() -> float:
            start = time.perf_counter()
            work()
            return time.perf_counter() - start

        return timing

    def forward_pass() -> None:
        with torch.no_grad():
            ((net(tensor) - tensor) ** 2).sum(1).numpy()

    sides = [lambda: model.predict(frame), forward_pass, lambda: detector.passes(points)]
    ours_s, peer_s, passes_s = in_turn([seconds(side) for side in sides], repeats)
    score = detector.score_.name
    note = f"{rows:,} rows; ours: checks, preprocessing, the run's score ({score}), codes"
    return [
        rate_row("scoring (logged detector)", "rows/s", rows / ours_s, rows / peer_s, note),
        rate_row(
            "scoring (logged detector), over its network passes",
            "rows/s",
            rows / ours_s,
            rows / passes_s,
            f"the passes its score ({score}) needs, timed bare: codes, reconstructions"
            + (", RaPP's terms" if score.startswith("rapp") else ""),
        ),
    ]


def scoring_cli(store: Path, rows: int, repeats: int) -> Row:
    """Rows per second through ``python -m pipelines.score`` (the spiral run's detector, a CSV in
    and out) against ``benchmarks/plain_score.py`` (the same network's weights, pandas and torch),
    each from process start to exit."""
    import mlflow
    import numpy as np
    import pandas as pd
    import torch

    from autoencoders.tracking.models import fluent_store

    uri = f"sqlite:///{store}/mlflow.db"
    with fluent_store(uri):
        run = mlflow.search_runs(search_all_experiments=True, order_by=["start_time DESC"], max_results=1)
        model = f"runs:/{run.run_id[0]}/anomaly_detector"
        detector = mlflow.pyfunc.load_model(model).unwrap_python_model().detector.detector
    torch.save(detector.codec.module.state_dict(), store / "weights.pt")
    points = np.random.default_rng(0).uniform(-3, 3, size=(rows, 2))
    pd.DataFrame(points, columns=["x0", "x1"]).to_csv(store / "points.csv", index=False)
    ours = [
        sys.executable,
        "-m",
        "pipelines.score",
        f"model_uri={model}",
        f"input={store / 'points.csv'}",
        f"output={store / 'scored.csv'}",
        f"tracking.uri={uri}",
        f"hydra.run.dir={store}/score",
    ]
    peer = [sys.executable, str(PLAIN_SCORE), str(store / "weights.pt"), str(store / "points.csv")]
    ours_s, peer_s = alternate(lambda: wall(ours), lambda: wall([*peer, str(store / "plain.csv")]), repeats)
    score = detector.score_.name
    note = f"{rows:,} rows, CSV in and out, process start to exit; ours: the run's score ({score})"
    return rate_row("scoring CLI (pipelines.score)", "rows/s", rows / ours_s, rows / peer_s, note)


# --- 4. tables of real size --------------------------------------------------------------------------


def measured_process(command: list[str]) -> tuple[float, float]:
    """Seconds from a command's start to its exit, and its peak resident memory in GB (the
    kernel's own count for that process, taken by ``benchmarks/peak.py``: started from this
    process directly, the command's peak would count this process's size); a failure stops the
    suite."""
    with tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        wrapped = [sys.executable, str(PEAK), peak.name, "--", *command]
        process = subprocess.run(wrapped, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        seconds = time.perf_counter() - start
        if process.returncode:
            errors.seek(0)
            raise subprocess.CalledProcessError(process.returncode, command, stderr=errors.read())
        return seconds, int(peak.read()) / 1e6  # kilobytes on Linux


def table_run(path: Path, store: Path, *settings: str) -> list[str]:
    """``python -m pipelines.train`` on the table at ``path`` labelled ``is_fraud`` (the generated
    transactions), one epoch, logging into ``store``."""
    return [
        sys.executable,
        "-m",
        "pipelines.train",
        "dataset=table",
        f"dataset.path={path}",
        "dataset.label=is_fraud",
        "dataset.epochs=1",
        f"paths.mlruns={store}",
        f"hydra.run.dir={store}/run",
        *settings,
    ]


def large_tables(
    store: Path, sizes: tuple[int, ...], repeats: int, device: str = "cpu"
) -> tuple[list[Row], dict[str, dict]]:
    """``dataset=table`` end to end (read, roles, scaling, one epoch, evaluation, the MLflow run and
    its detector) on generated 31-column Parquet files of ``sizes`` rows, against
    ``benchmarks/plain_table.py`` (pandas and torch: the same reading, scaling, network, epoch and
    score); time and peak memory for each size, the rows for the largest. ``device`` cuda: both
    train on the GPU (``trainer=gpu``; the rows held there)."""
    sys.path.insert(0, str(PROJECT_ROOT / "examples"))
    from make_transactions import transactions

    store.mkdir(parents=True, exist_ok=True)
    growth: dict[str, dict] = {}
    rows: list[Row] = []
    for n in sizes:
        path = store / f"transactions-{n}.parquet"
        transactions(n=n, gaps=n // 100, values=25).to_parquet(path)
        # anomaly.score=reconstruction: the plain script's score
        ours = table_run(
            path, store, "anomaly.score=reconstruction", *(["trainer=gpu"] if device == "cuda" else [])
        )
        peer = [sys.executable, str(PLAIN_TABLE), str(path), "--epochs", "1", "--device", device]
        laps: dict[str, list[tuple[float, float]]] = {"ours": [], "peer": []}
        for _ in range(repeats if n == sizes[-1] else 1):
            laps["ours"].append(measured_process(ours))
            laps["peer"].append(measured_process(peer))
        growth[f"{n:,} rows"] = {
            side: {
                "seconds": round(statistics.median(t for t, _ in runs), 2),
                "peak GB": round(max(m for _, m in runs), 3),
            }
            for side, runs in laps.items()
        }
    largest = growth[f"{sizes[-1]:,} rows"]
    label = f"{sizes[-1] // 1000:,}k" if sizes[-1] < 1_000_000 else f"{sizes[-1] // 1_000_000}M"
    on = "" if device == "cpu" else f" ({device})"
    note = "31 columns, 1 epoch, the reconstruction error; process start to exit"
    rows.append(
        time_row(
            f"table {label} rows end to end{on}", largest["ours"]["seconds"], largest["peer"]["seconds"], note
        )
    )
    ours_gb, peer_gb = largest["ours"]["peak GB"], largest["peer"]["peak GB"]
    rows.append(
        Row(
            f"table {label} rows peak memory{on}",
            ours_gb,
            peer_gb,
            "GB",
            round(ours_gb / peer_gb, 3),
            "peak RSS",
        )
    )
    return rows, growth


def beyond_memory(
    store: Path, n_rows: int, budget_gb: float, seeds: tuple[int, ...] = (0, 1, 2)
) -> list[Row]:
    """``dataset=table`` on a generated ``n_rows`` x 31 Parquet file (row groups of 131,072 rows)
    at least four times ``budget_gb`` (``dataset.max_memory_gb``), so that it streams. Its peak
    memory against the same streamed run on a tenth of the rows (what grows with the file) and
    over the floor (the same on 10,000 rows: the libraries), its test/auroc and time against the
    in-memory run on the same file, over ``seeds`` (one epoch's AUROC on this table varies by
    about 0.015 from seed to seed, streamed or not)."""
    sys.path.insert(0, str(PROJECT_ROOT / "examples"))
    from make_transactions import transactions
    from mlflow.tracking import MlflowClient

    store.mkdir(parents=True, exist_ok=True)
    files = {rows: store / f"transactions-{rows}.parquet" for rows in (10_000, n_rows // 10, n_rows)}
    table = transactions(n=n_rows, gaps=n_rows // 100, values=25)
    for rows, path in files.items():
        table.head(rows).to_parquet(path, row_group_size=131_072)
    del table
    file_gb = files[n_rows].stat().st_size / 1e9
    if file_gb < 4 * budget_gb:
        raise ValueError(f"{files[n_rows].name} is {file_gb:.2f} GB, under 4x the budget {budget_gb} GB")
    same = ("anomaly.score=reconstruction", "dataset.batch_size=1024")  # both sides
    budget = (f"dataset.max_memory_gb={budget_gb}", *same)
    commands = {
        "floor": table_run(files[10_000], store / "floor", "dataset.streaming=true", *budget),
        "tenth": table_run(files[n_rows // 10], store / "tenth", "dataset.streaming=true", *budget),
        **{
            f"streamed {seed}": table_run(files[n_rows], store / "streamed", *budget, f"seed={seed}")
            for seed in seeds
        },
        **{
            f"memory {seed}": table_run(files[n_rows], store / "memory", *same, f"seed={seed}")
            for seed in seeds
        },
    }
    found = {}
    for name, command in commands.items():
        seconds, peak_gb = measured_process(command)
        client = MlflowClient(f"sqlite:///{store / name.split()[0]}/mlflow.db")
        experiments = [experiment.experiment_id for experiment in client.search_experiments()]
        newest = client.search_runs(
            experiments, "tags.stage = 'train'", order_by=["attributes.start_time DESC"]
        )[0]
        found[name] = {"seconds": seconds, "peak GB": peak_gb, "auroc": newest.data.metrics["test/auroc"]}

    def over_seeds(side: str, key: str) -> list[float]:
        return [found[f"{side} {seed}"][key] for seed in seeds]

    peak = {name: round(measured["peak GB"], 3) for name, measured in found.items() if " " not in name}
    peak |= {side: round(max(over_seeds(side, "peak GB")), 3) for side in ("streamed", "memory")}
    auroc = {side: over_seeds(side, "auroc") for side in ("streamed", "memory")}
    seconds = {side: statistics.median(over_seeds(side, "seconds")) for side in ("streamed", "memory")}
    over = round(peak["streamed"] - peak["floor"], 3)
    file_said = (
        f"{n_rows:,} rows, {file_gb:.2f} GB ({file_gb / budget_gb:.1f}x dataset.max_memory_gb={budget_gb})"
    )
    return [
        Row(
            "table beyond memory, peak memory",
            peak["streamed"],
            peak["tenth"],
            "GB",
            round(peak["streamed"] / peak["tenth"], 3),
            f"{file_said}, against a tenth of its rows streamed; in memory: {peak['memory']} GB",
        ),
        Row(
            "table beyond memory, peak over the floor",
            over,
            budget_gb,
            "GB",
            round(over / budget_gb, 3),
            f"against the budget; the floor: {peak['floor']} GB, 10,000 rows streamed",
        ),
        Row(
            "table beyond memory, test/auroc",
            round(statistics.mean(auroc["streamed"]), 4),
            round(statistics.mean(auroc["memory"]), 4),
            "AUROC",
            round(statistics.mean(auroc["streamed"]) / statistics.mean(auroc["memory"]), 4),
            f"means over seeds {list(seeds)} (streamed {[round(a, 4) for a in auroc['streamed']]}, in memory "
            f"{[round(a, 4) for a in auroc['memory']]}); the same file, 1 epoch, the reconstruction error",
        ),
        time_row(
            "table beyond memory, time",
            seconds["streamed"],
            seconds["memory"],
            "against the in-memory run (medians over the seeds), process start to exit",
        ),
    ]


# --- 5. a busy machine -----------------------------------------------------------------------------


def busy_machine(store: Path, epochs: int, repeats: int) -> Row:
    """``python -m pipelines.train`` on a 64-feature table (scikit-learn's digits, 3 normal; a
    network torch would split over every core) while a CPU-bound process occupies one core,
    against the same command on the quiet machine, each from process start to exit."""
    from sklearn.datasets import load_digits

    from benchmarks.quality import one_class_table

    digits = load_digits(as_frame=True)
    path = store / "digits-3.csv"
    store.mkdir(parents=True, exist_ok=True)
    one_class_table(digits.data, digits.target, 3, 0.1).to_csv(path, index=False)
    train = [
        sys.executable,
        "-m",
        "pipelines.train",
        "dataset=table",
        f"dataset.path={path}",
        "dataset.label=is_anomaly",
        f"dataset.epochs={epochs}",
        f"paths.mlruns={store}",
        f"hydra.run.dir={store}/run",
    ]

    def busy() -> float:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(1.0)  # running, as a process already busy when the training starts
            return wall(train)
        finally:
            spinner.kill()
            spinner.wait()

    wall(train)  # the store's tables made first, as in a store in use
    ours_s, peer_s = alternate(busy, lambda: wall(train), repeats)
    note = f"digits as a table, {epochs} epochs; ours: a CPU-bound process beside it ({os.cpu_count()} cores)"
    return time_row("busy machine", ours_s, peer_s, note)


# --- 6. quality -----------------------------------------------------------------------------------


def spiral_quality(store: Path) -> Row:
    """Mean train/rmse over seeds 0..4: the pipeline's runs against the plain script's."""
    from mlflow.tracking import MlflowClient

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.train",
            "-m",
            "seed=0,1,2,3,4",
            f"paths.mlruns={store}",
            f"hydra.sweep.dir={store}/sweep",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    client = MlflowClient(f"sqlite:///{store}/mlflow.db")  # a store of its own: the five runs
    found = client.search_runs([e.experiment_id for e in client.search_experiments()])
    runs = [run for run in found if "mlflow.parentRunId" in run.data.tags]  # the jobs, not their parent
    ours = [run.data.metrics["train/rmse"] for run in runs]
    peer = []
    for seed in range(5):
        out = subprocess.run(
            [sys.executable, str(PLAIN_SPIRAL), "--seed", str(seed), "--threads", "1"],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        peer.append(float(out.split()[-1]))
    aurocs = ", ".join(f"{run.data.metrics['test/auroc']:.5f}" for run in runs)
    mean_ours, mean_peer = statistics.mean(ours), statistics.mean(peer)
    return Row(
        "spiral train/rmse, seeds 0-4",
        round(mean_ours, 5),
        round(mean_peer, 5),
        "rmse",
        round(mean_ours / mean_peer, 3),
        f"test/auroc {aurocs}",
    )


def mnist_quality(store: Path) -> Row:
    """The ten-digit one-class table (``benchmarks/one_class.py``): the conv autoencoder's mean
    test/auroc against the best classic detector's."""
    from benchmarks import one_class

    record = one_class.run(["num_threads=1", f"paths.mlruns={store}", f"hydra.sweep.dir={store}/sweep"])
    means = {row["method"]: row["mean"] for row in record["rows"]}
    ours_name = record["rows"][0]["method"]
    peer_name = max((name for name in means if name != ours_name), key=means.get)
    ours, peer = means[ours_name], means[peer_name]
    return Row(
        f"MNIST one-class mean test/auroc, {ours_name} vs {peer_name}",
        round(ours, 4),
        round(peer, 4),
        "AUROC",
        round(ours / peer, 4),
        "higher is better; ten digits, bundled set",
    )


# --- the suite ------------------------------------------------------------------------------------


SIZES = {  # quick, full
    "spiral epochs": (50, 200),
    "repeats": (1, 3),
    "conv steps": (60, 200),
    "scoring rows": (20_000, 200_000),
    "scoring CLI rows": (20_000, 100_000),
    "busy epochs": (10, 50),
    "table rows": ((10_000, 100_000), (10_000, 100_000, 1_000_000)),
    # a file over 4x dataset.max_memory_gb (0.86 GB at 4.5M rows)
    "beyond memory": ((200_000, 0.009, (0,)), (4_500_000, 0.2, (0, 1, 2))),  # rows, budget GB, seeds
}


def environment() -> dict:
    import mlflow
    import pytorch_lightning
    import torch

    cuda = torch.cuda.is_available()
    return {
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning": pytorch_lightning.__version__,
            "mlflow": mlflow.__version__,
        },
        "commit": report.COMMIT_AT_START,
        "threads": "1 for the spiral (the pipeline's default for networks under 10,000 parameters); "
        f"torch's default ({torch.get_num_threads()}) for the conv model",
        "device": torch.cuda.get_device_name(0) if cuda else "cpu (no CUDA device: the GPU rows are skipped)",
    }


def run_suite(
    quick: bool, repeats: int | None = None, out: Path = RESULTS, quality: bool | None = None
) -> dict:
    pick = 0 if quick else 1
    size = {key: values[pick] for key, values in SIZES.items()}
    repeats = repeats or size["repeats"]
    quality = (not quick) if quality is None else quality
    started = time.perf_counter()
    record = {"suite": "quick" if quick else "full", **environment()}
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder)
        import torch

        default_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        rows: list[Row] = []
        measured(rows, spiral_loop(size["spiral epochs"], repeats))
        end_to_end, breakdown = spiral_end_to_end(size["spiral epochs"], repeats, store / "e2e")
        measured(rows, end_to_end)
        floor = spiral_import_floor(size["spiral epochs"], repeats)
        measured(rows, floor)
        over = "the pipeline's run against the plain script after the same imports"
        measured(
            rows, time_row("spiral end to end, over the imports' floor", end_to_end.ours, floor.ours, over)
        )
        for row in scoring(store / "e2e", size["scoring rows"], repeats):
            measured(rows, row)
        measured(rows, scoring_cli(store / "e2e", size["scoring CLI rows"], repeats))
        torch.set_num_threads(default_threads)
        measured(rows, conv_loop(size["conv steps"], repeats))
        measured(rows, busy_machine(store / "busy", size["busy epochs"], repeats))
        table_rows, growth = large_tables(store / "tables", size["table rows"], repeats)
        if torch.cuda.is_available():  # the largest table on the GPU too
            gpu_rows, gpu_growth = large_tables(store / "tables", size["table rows"][-1:], repeats, "cuda")
            table_rows += gpu_rows
            growth |= {f"{key} (cuda)": value for key, value in gpu_growth.items()}
        for row in table_rows:
            measured(rows, row)
        for row in beyond_memory(store / "beyond", *size["beyond memory"]):
            measured(rows, row)
        if torch.cuda.is_available():  # the conv rows on the GPU too; without one the device says so
            measured(rows, conv_loop(size["conv steps"] * 10, repeats, "cuda"))
        if quality:
            measured(rows, spiral_quality(store / "quality"))
            measured(rows, mnist_quality(store / "mnist"))
    record |= {
        "seconds": round(time.perf_counter() - started, 1),
        "rows": [asdict(row) for row in rows],
        "spiral end to end breakdown (s)": {key: round(value, 2) for key, value in breakdown.items()},
        "table growth": growth,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{record['suite']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=1))
    page = report.write_page(path, report.PAGES if out == RESULTS else out)
    print(page.read_text())
    print(f"wrote {path} and {page}")
    return record


def measured(rows: list[Row], row: Row) -> None:
    """Keep a row and print it at once: a long suite shows its figures as it goes."""
    rows.append(row)
    print(f"measured: {json.dumps(asdict(row))}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no quality rows (a few minutes)")
    parser.add_argument("--repeats", type=int, default=None, help="alternating timings per side (median)")
    parser.add_argument(
        "--beyond-memory", action="store_true", help="the 'table beyond memory' rows alone (about 5 minutes)"
    )
    args = parser.parse_args()
    quiet_libraries()
    if args.beyond_memory:
        with tempfile.TemporaryDirectory() as folder:
            rows = beyond_memory(Path(folder), *SIZES["beyond memory"][0 if args.quick else 1])
        said = {"overrides": ["--quick"]} if args.quick else {}
        report.save_record(
            "bench-beyond-memory", {"rows": [asdict(row) for row in rows], **said, **environment()}
        )
        return
    run_suite(args.quick, args.repeats)


if __name__ == "__main__":
    main()
