"""Which runs compare: groups by dataset, code size and normal digits, each model summarised over its runs.

Runs are grouped by dataset, code size and normal digits (MNIST); within a group each model's metrics
are summarised over its runs (seeds) as mean and standard deviation, and a model is called best only
when it is ahead of every other by more than their spread over seeds.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

COMPARED_STAGES = ("train", "baseline")
BASELINE = "pca"
#: Settings that say where or how fast the data is read, not what it is.
IGNORED_DATA_PARAMS = {
    "dataset.root",
    "dataset.source",
    "dataset.batch_size",
    "dataset.epochs",
    "dataset.epoch_size",
}


@dataclass(frozen=True, order=True)
class GroupKey:
    """What must match for two runs to be compared: the data (every ``dataset.*`` setting and the
    source actually used, summarised in ``data_id``) and the code size."""

    experiment: str
    dataset: str
    code_dim: int
    normal_digits: str = ""
    data_id: str = ""

    @property
    def slug(self) -> str:
        """The group in a metric name (MLflow allows letters, digits, ``_-. /:``)."""
        digits = f" digits {self.normal_digits.strip('[]').replace(',', '-')}" if self.normal_digits else ""
        return f"code {self.code_dim}{digits} data {self.data_id}"

    @property
    def label(self) -> str:
        digits = f", digits {self.normal_digits}" if self.normal_digits else ""
        return f"{self.dataset}, code {self.code_dim}{digits}"


def short_hash(items: dict[str, str]) -> str:
    return hashlib.sha1(repr(sorted(items.items())).encode()).hexdigest()[:6]


#: Settings that make a variant of a model: a network's and its trainer's, a baseline's method's.
VARIANT_PREFIXES = ("model.", "trainer.", "method.")
#: The code size under its names: the group holds it, not the variant.
CODE_SIZE_PARAMS = ("model.code_dim", "method.n_components")


def model_variant(run: Run) -> str:
    """The model's name, plus a short hash of its settings where it has any (the code size and the
    seed aside: the group and the row's seeds hold them), so that the runs of one row differ by
    seed only (kNN with k=5 and k=10 are two rows)."""
    params = run.data.params
    settings = {
        k: v for k, v in params.items() if k.startswith(VARIANT_PREFIXES) and k not in CODE_SIZE_PARAMS
    }
    return (
        f"{run.data.tags.get('model', '?')}#{short_hash(settings)}"
        if settings
        else run.data.tags.get("model", "?")
    )


#: The run tag that names a run's configuration: its comparison row (UI: Group by ``config``).
CONFIG_TAG = "config"


def config_key(run: Run, overrides: list[str]) -> str | None:
    """The run's configuration key, readable, and the same for exactly the runs one row of the
    comparison averages over seeds: the model, its code size, the normal digits, the command line's
    model and trainer settings, and a short hash of the settings and data the comparison groups by
    (so that changed defaults are another key). None for a run that is not compared."""
    key = group_key(run, "")
    if key is None:
        return None
    variant = model_variant(run)
    digits = f" digits={key.normal_digits}" if key.normal_digits else ""
    settings = [
        item
        for item in overrides
        if item.startswith(VARIANT_PREFIXES) and not item.startswith(CODE_SIZE_PARAMS)
    ]
    readable = " ".join([f"{variant.split('#')[0]} code={key.code_dim}{digits}", *settings])
    return f"{readable} #{short_hash({'variant': variant, 'data': key.data_id})}"


@dataclass
class ModelSummary:
    """One model's runs in one group: the latest run of each seed, per metric the values over
    those runs, and the older runs of the same seed that they replace (repeats, not more seeds)."""

    model: str
    config: str = ""  # the runs' configuration key (their tag), where they carry one
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    run_ids: list[str] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)

    def mean(self, metric: str) -> float | None:
        found = self.values.get(metric)
        return float(np.mean(found)) if found else None

    def std(self, metric: str) -> float | None:
        """The sample standard deviation (n - 1) over seeds; None for a single run."""
        found = self.values.get(metric)
        return float(np.std(found, ddof=1)) if found and len(found) > 1 else None


Table = dict[GroupKey, dict[str, ModelSummary]]


def group_key(run: Run, experiment: str) -> GroupKey | None:
    tags, params = run.data.tags, run.data.params
    code_dim = str(tags.get("code_dim") or params.get("model.code_dim") or "").strip()
    if not (code_dim.isascii() and code_dim.isdigit()) or "dataset" not in tags:
        return None  # not a run of a stage that compares
    digits = ""
    if tags["dataset"] == "mnist" and params.get("dataset.normal_digits"):
        listed = params["dataset.normal_digits"].strip("[]").split(",")
        found = sorted({int(d) for d in listed if d.strip().isascii() and d.strip().isdigit()})
        digits = "[" + ",".join(map(str, found)) + "]"
    # The digits are in the key already, in a canonical order: the hash takes the other settings.
    ignored = IGNORED_DATA_PARAMS | {"dataset.normal_digits"}
    data = {k: v for k, v in params.items() if k.startswith("dataset.") and k not in ignored}
    data["source"] = tags.get("dataset.source", "")
    # The splits' digests (MLflow dataset inputs): a user's file or folder is in the group by its
    # content, wherever it lies (its path is a tag, not a param).
    data["digests"] = ",".join(
        sorted(f"{i.dataset.name}:{i.dataset.digest}" for i in run.inputs.dataset_inputs)
    )
    return GroupKey(experiment, tags["dataset"], int(code_dim), digits, short_hash(data))


def collect(client: MlflowClient, experiment_names: list[str] | None, metrics: list[str]) -> Table:
    """The FINISHED train and PCA-baseline runs of the experiments, grouped and summarised: per
    model, the latest run of each seed (an older run of the same configuration and seed is a
    repeat, counted in ``replaced``, not averaged in as another seed)."""
    experiments = [
        e for e in client.search_experiments() if experiment_names is None or e.name in experiment_names
    ]
    table: Table = defaultdict(dict)
    for experiment in experiments:
        runs = client.search_runs(
            [experiment.experiment_id],
            "attributes.status = 'FINISHED'",
            max_results=50_000,
            order_by=["attributes.start_time DESC"],
        )
        for run in runs:
            key = group_key(run, experiment.name)
            if key is None or run.data.tags.get("stage") not in COMPARED_STAGES:
                continue
            model = model_variant(run)
            summary = table[key].setdefault(model, ModelSummary(model, run.data.tags.get(CONFIG_TAG, "")))
            seed = run.data.params.get("seed", "")
            if seed in summary.seeds:  # newest first: this one is an older repeat
                summary.replaced.append(run.info.run_id)
                continue
            summary.seeds.append(seed)
            summary.run_ids.append(run.info.run_id)
            for metric in metrics:
                if metric in run.data.metrics:
                    summary.values[metric].append(run.data.metrics[metric])
    return dict(sorted(table.items()))


def display_names(models: dict[str, ModelSummary]) -> dict[str, str]:
    """Row names: the model's name alone unless the group holds several variants of it; then
    their configuration key (the runs' ``config`` tag, what the UI groups by), or ``model#hash``."""
    bases = [variant.split("#")[0] for variant in models]
    return {
        variant: (summary.config or variant)
        if bases.count(variant.split("#")[0]) > 1
        else variant.split("#")[0]
        for variant, summary in models.items()
    }


def group_labels(table: Table) -> dict[GroupKey, str]:
    """Group labels, with the data's id added where two groups would otherwise read the same."""
    plain = [(key.experiment, key.label) for key in table]
    return {
        key: key.label + (f" (data {key.data_id})" if plain.count((key.experiment, key.label)) > 1 else "")
        for key in table
    }


def group_folders(table: Table) -> dict[GroupKey, str]:
    """Artifact folder per group, from its label: ``spiral-code-1``, ``mnist-code-16-digits-3-5``."""
    return {
        key: re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-") for key, label in group_labels(table).items()
    }


#: The metrics (by their last name part) where higher is better: detection scores.
HIGHER_IS_BETTER = {
    *("auroc", "aupr", "precision", "recall", "f1", "pixel_auroc", "pixel_aupro"),
    *("vus_pr", "range_f1", "interval_precision", "interval_recall"),
}


def direction(metric: str) -> str:
    """``max`` where higher is better (detection scores), ``min`` for errors and losses."""
    return "max" if metric.rsplit("/", 1)[-1] in HIGHER_IS_BETTER else "min"


@dataclass(frozen=True)
class Verdict:
    """What a group's means say of one metric. ``leader``: the best mean; ``level``: the models
    whose gap to it is within the spread over seeds (the larger sample std of the two; for two
    single runs, the largest std in the group), or whose spread nothing in the group tells
    (``unknown_spread``: single runs only); ``best``: the leader when no model is level with it
    and they are not all at the ceiling (an AUROC of 1.0 everywhere separates nothing)."""

    metric: str
    leader: str
    level: tuple[str, ...]
    unknown_spread: tuple[str, ...]
    ceiling: bool

    @property
    def best(self) -> str | None:
        return None if self.level or self.ceiling else self.leader


def verdict(models: dict[str, ModelSummary], metric: str) -> Verdict | None:
    """The verdict on ``metric`` for a group of two or more models that logged it, else None."""
    means = {name: summary.mean(metric) for name, summary in models.items()}
    found = {name: mean for name, mean in means.items() if mean is not None}
    if len(found) < 2:
        return None
    pick = max if direction(metric) == "max" else min
    leader = pick(found, key=found.__getitem__)
    known = [std for name in found if (std := models[name].std(metric)) is not None]
    level, unknown = [], []
    for name, mean in found.items():
        if name == leader:
            continue
        pair = [std for std in (models[leader].std(metric), models[name].std(metric)) if std is not None]
        spread = max(pair or known, default=None)
        if spread is None:
            unknown.append(name)
        if spread is None or abs(found[leader] - mean) <= spread:
            level.append(name)
    ceiling = direction(metric) == "max" and min(found.values()) >= 1.0
    return Verdict(metric, leader, tuple(level), tuple(unknown), ceiling)


def best_model(models: dict[str, ModelSummary], metric: str) -> str | None:
    """The model ahead of every other of its group on ``metric`` by more than the seeds' spread."""
    found = verdict(models, metric)
    return found.best if found else None
