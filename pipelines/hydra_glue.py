"""The Hydra glue of every entry point: the config folder and its resolvers, building objects with
one-line errors, what a job knows about itself (sweep, overrides, folder), its MLflow run, resume."""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from autoencoders.errors import ConfigError, InputError, TrackingServerGone, TrainingDiverged
from autoencoders.tracking import resume, runs, sweeps
from autoencoders.tracking.store import Target, redact, unanswered
from autoencoders.training.selection import epoch_stride
from autoencoders.util.console import quiet_libraries
from autoencoders.util.files import remove_job_folder
from pipelines.stage_keys import check, one_line, resolved, target_error

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "conf")
#: Where ``make ui`` / ``make server`` last served a store, in the store's folder: the address its
#: runs' printed links use.
UI_ADDRESS_FILE = "ui-address"
DEFAULT_UI = "http://127.0.0.1:5000"
#: The network a dataset trains where the command line names none: images convolve (the one-class
#: MNIST digits: conv 0.977 against the dense default's 0.65, docs/results/quality.md).
DATASET_MODELS = {"mnist": "conv", "image_folder": "conv"}


def store_ui_address(store: str) -> str:
    """The UI address the store's server recorded when it started, else ``make ui``'s default."""
    recorded = Path(store) / UI_ADDRESS_FILE
    return recorded.read_text().strip() if recorded.is_file() else DEFAULT_UI


def path_stem(*paths: str | None) -> str:
    """The first given file's name without its suffix: the experiment of the user's own data."""
    given = [Path(str(path)).stem for path in paths if path is not None]
    return next((stem for stem in given if stem), "data")


def aeon_data(name: str) -> str:
    """A data file bundled with aeon (its benchmark series), found without importing aeon."""
    from importlib.util import find_spec

    spec = find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("aeon is not installed: its bundled series need it (pip install aeon)")
    return str(Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name)


RESOLVERS = {
    "project_root": lambda: str(PROJECT_ROOT),
    "ui_address": store_ui_address,
    "path_stem": path_stem,
    "aeon_data": aeon_data,  # the experiment of your own data
    "epoch_stride": epoch_stride,  # validate every n-th epoch: ~20 times a run
    "optuna_direction": lambda mode: {"min": "minimize", "max": "maximize"}.get(mode, mode),
}
for _name, _resolver in RESOLVERS.items():
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _resolver)


def group_choice_errors(arguments: list[str], config_dir: Path = Path(CONFIG_DIR)) -> None:
    """``group=option`` arguments checked against ``conf/<group>/`` before Hydra composes: a
    misspelt option is one line naming the group and its options (Hydra's own report is twelve lines
    and exit 1). Sweeps (``a,b``) are checked option by option; ``hydra/...`` groups, plugins' and
    sweep functions (``choice(...)``) are left to Hydra."""
    for argument in arguments:
        key, is_set, value = argument.lstrip("+").partition("=")
        group = config_dir / key.split("@")[0]
        if not is_set or argument.startswith("~") or "/" in key or "(" in value or not group.is_dir():
            continue
        options = sorted(path.stem for path in group.glob("*.yaml"))
        for option in value.split(","):
            if option not in options and option != "null":
                shown = ", ".join(options)
                raise ConfigError(f"{key} must be one of [{shown}], got {option!r}")


def with_dataset_model(overrides: list[str]) -> list[str]:
    """``overrides`` with ``model=`` the chosen dataset's network (:data:`DATASET_MODELS`) where
    they choose no model; a sweep over datasets gets it only where every one of them has that one.
    Hydra cannot do this itself: a dataset overriding the model would override the model's own
    choice of dataset (``model=conv`` picks MNIST)."""
    choices = dict(argument.partition("=")[::2] for argument in overrides if "=" in argument)
    if "model" in choices or "dataset" not in choices:
        return overrides
    models = {DATASET_MODELS.get(option) for option in choices["dataset"].split(",")}
    return [f"model={models.pop()}", *overrides] if len(models) == 1 and None not in models else overrides


def stage_main(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """``hydra.main`` for a stage's ``main``, with its command line's config-group choices checked
    first (:func:`group_choice_errors`), as one line and exit 2."""
    import functools

    import hydra

    def decorate(task: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        run = hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=config_name)(task)

        @functools.wraps(task)
        def main() -> Any:
            with one_line_errors():
                group_choice_errors(sys.argv[1:])
            if config_name == "train":
                sys.argv[1:] = with_dataset_model(sys.argv[1:])
            return run()

        return main

    return decorate


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """The config an entry point would see, composed without running it (tests, notebooks, benchmarks)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        overrides = overrides or []
        return compose(config_name, with_dataset_model(overrides) if config_name == "train" else overrides)


def build(node: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` with the target's own check as a one-line error: a setting out of
    range named by its full path (``model.net.channels``), any other error by its config group.
    Targets get plain lists and dicts, never OmegaConf containers (checkpoints load weights only)."""
    try:
        return instantiate(node, _convert_="all", **kwargs)
    except OmegaConfBaseException as error:
        raise ConfigError(one_line(error)) from None
    except InstantiationException as error:
        raise target_error(error, node) from error


#: The SIGTERM this process received, if any: its exit status, whoever ends the process.
_terminated_by: list[int] = []


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    _terminated_by.append(signum)
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Bad settings and input: ``error: <message>`` on stderr, exit 2, no traceback, no output
    folder; a diverged training (its run ended FAILED) and a tracking server that stopped answering
    (its run left RUNNING, the job's folder and checkpoint kept) the same way with exit 1. In a
    multirun the error is raised on, so Hydra records the job as failed and goes on. SIGTERM becomes
    ``SystemExit(143)``, so the open run ends KILLED rather than RUNNING."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    quiet_libraries()
    try:
        yield
    except SystemExit as stop:
        # The handler's exception is lost when the signal lands in a finaliser (``__del__``); then
        # Lightning's own SIGTERM flag ends the fit with a bare ``SystemExit`` (status 0)
        if _terminated_by and not stop.code:
            raise SystemExit(128 + _terminated_by[0]) from stop
        raise
    except (ConfigError, InputError, TrainingDiverged, TrackingServerGone) as error:
        print(f"error: {redact(str(error))}", file=sys.stderr)
        if is_multirun():
            raise
        if isinstance(error, ConfigError | InputError):
            discard_job_dir()  # nothing ran: leave no output folder behind
            raise SystemExit(2) from None
        raise SystemExit(1) from None


def is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def task_overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def discard_job_dir() -> None:
    """Remove what Hydra wrote for a job that stopped on bad input (nothing else)."""
    if HydraConfig.initialized():
        job = HydraConfig.get()
        written = [job.output_subdir or "", f"{job.job.name}.log"]
        remove_job_folder(Path(job.runtime.output_dir), written, Path(job.runtime.cwd))


@contextlib.contextmanager
def job_dir() -> Iterator[Path]:
    """The job's working folder (checkpoints): Hydra's output dir, or under the compose API a
    temporary one, removed when the job is done (what matters is in MLflow by then), but for a
    tracking server that stopped answering: it holds the checkpoint that ``resume`` continues."""
    if HydraConfig.initialized():
        yield Path(HydraConfig.get().runtime.output_dir)
        return
    folder = Path(tempfile.mkdtemp(prefix="autoencoders-"))
    try:
        yield folder
    except TrackingServerGone:
        raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)


#: Overrides that say where a job writes, not what it is: left out of its run's name.
PLUMBING = ("tracking.", "hydra.", "paths.", "hydra/")


def job_tags() -> dict[str, str]:
    """Tags that put this job's run under its sweep's parent run ({} outside a multirun)."""
    if not is_multirun():
        return {}
    job = HydraConfig.get()
    return sweeps.job_tags(Path(job.sweep.dir), job.job.num, job.overrides.task)


def job_run_name(chosen: str | None, default: str) -> str:
    """``run_name`` when set; in a multirun ``job N: <its overrides>``; else the stage's own name."""
    if chosen or not is_multirun():
        return chosen or default
    job = HydraConfig.get()
    swept = [item for item in job.overrides.task if not item.startswith(PLUMBING)]
    return f"job {job.job.num}: {' '.join(swept) if swept else default}"


def tracking_target(tracking: DictConfig) -> Target:
    return Target(tracking.uri, tracking.experiment, tracking.get("artifact_root"))


@contextlib.contextmanager
def stage_run(
    cfg: DictConfig,
    tags: dict[str, str],
    name: str,
    skip_params: tuple[str, ...] = (),
    extra_params: dict[str, object] | None = None,
) -> Iterator[tuple[Any, str, str]]:
    """This job's MLflow run (or the run ``resume`` reopens): the resolved config as params (less
    the groups in ``skip_params``; machine paths as tags), the config and overrides as files, the
    sweep's tags. Yields ``(client, experiment_id, run_id)``."""
    if cfg.get("resume"):
        opening = resume.resumed_run(cfg.tracking.uri, cfg.resume)
    else:
        flat = runs.flatten({key: resolved(cfg, key) for key in cfg if key not in skip_params})
        params, path_tags = runs.split_paths({**flat, **(extra_params or {})})
        run_name, config = job_run_name(cfg.get("run_name"), name), OmegaConf.to_yaml(cfg)
        target, tags = tracking_target(cfg.tracking), {**path_tags, **tags, **job_tags()}
        opening = runs.stage_run(target, run_name, tags, params, config, task_overrides())
    with opening as (client, experiment_id, run_id):
        try:
            yield client, experiment_id, run_id
        except TrackingServerGone:
            raise
        except BaseException as error:
            if unanswered(error):  # nothing more to ask a server that is gone, the run stays RUNNING
                raise resume.server_gone(cfg.tracking.uri, run_id, error) from error
            resume.print_resume_hint(client, run_id)  # where a training kept its last checkpoint
            raise
        tag_config(client, run_id, task_overrides())


def tag_config(client: Any, run_id: str, overrides: list[str]) -> None:
    """The finished run's configuration key as its ``config`` tag, for the UI's Group by: the same
    key the comparison's rows are (a resumed run keeps the key its overrides gave it)."""
    from autoencoders.comparison.groups import CONFIG_TAG, config_key

    run = client.get_run(run_id)
    if CONFIG_TAG in run.data.tags or run.data.tags.get("stage") not in ("train", "baseline"):
        return
    key = config_key(run, overrides)
    if key:
        client.set_tag(run_id, CONFIG_TAG, key)


def checked(cfg: DictConfig, stage: str) -> DictConfig:
    """The config a stage runs (a resumed run's own), its keys checked, every library seeded
    (Python, numpy, torch) by ``seed``: a seeded object built after this draws the same."""
    cfg = resumed_config(cfg) if cfg.get("resume") else cfg
    check(cfg, stage)
    if stage in ("train", "baseline"):  # the others draw nothing: no torch to import for them
        from lightning_fabric.utilities.seed import seed_everything

        seed_everything(cfg.seed, workers=True, verbose=False)
    return cfg


def print_summary(cfg: DictConfig, experiment_id: str, run_id: str, metrics: dict[str, float]) -> None:
    tracking = cfg.tracking
    resume.print_summary(tracking.uri, tracking.ui_url, tracking.experiment, (experiment_id, run_id), metrics)


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The config the run ``cfg.resume`` logged, with this command's ``tracking`` and ``paths``: a
    resumed run continues what it ran, so other overrides stop here."""
    other = [item for item in task_overrides() if not item.startswith(("resume=", "tracking=", *PLUMBING))]
    if other:
        raise ConfigError(
            f"resume={cfg.resume} continues the run with its logged config; drop {' '.join(other)} "
            "(only tracking.*, paths.* and hydra.* settings go with resume)"
        )
    text, experiment = resume.resumable_config(cfg.tracking.uri, cfg.resume)
    logged = OmegaConf.create(text)
    with open_dict(logged):
        logged.tracking, logged.paths, logged.resume = cfg.tracking, cfg.paths, cfg.resume
        logged.tracking.experiment = experiment
    return logged
