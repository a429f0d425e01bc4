"""Autoencoders next to their PCA baselines, from the runs an MLflow store holds.

Runs are grouped by dataset, code size and normal digits (MNIST); within a group each model's metrics
are summarised over its runs (seeds) as mean and standard deviation, and divided by PCA's mean.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from autoencoders.evaluation.records import OUTPUTS_PATH, RunOutputs
from autoencoders.tracking.runs import load_arrays

COMPARED_STAGES = ("train", "baseline", "pca_baseline")  # pca_baseline: runs logged before baselines
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


def model_variant(run: Run) -> str:
    """The model's name, plus a short hash of its model and trainer settings where it has any (the
    code size and the seed aside: the group and the row's seeds hold them), so that the runs of
    one row differ by seed only."""
    params = run.data.params
    settings = {
        k: v for k, v in params.items() if k.startswith(("model.", "trainer.")) and k != "model.code_dim"
    }
    return (
        f"{run.data.tags.get('model', '?')}#{short_hash(settings)}"
        if settings
        else run.data.tags.get("model", "?")
    )


@dataclass
class ModelSummary:
    """One model's runs in one group: the latest run of each seed, per metric the values over
    those runs, and the older runs of the same seed that they replace (repeats, not more seeds)."""

    model: str
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
    code_dim = tags.get("code_dim") or params.get("model.code_dim") or params.get("n_components")
    if code_dim is None or "dataset" not in tags:
        return None
    digits = ""
    if tags["dataset"] == "mnist" and params.get("dataset.normal_digits"):
        found = sorted({int(d) for d in params["dataset.normal_digits"].strip("[]").split(",") if d.strip()})
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
            summary = table[key].setdefault(model, ModelSummary(model))
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
    """Row names: the model's name alone unless the group holds several variants of it."""
    bases = [variant.split("#")[0] for variant in models]
    return {
        variant: variant if bases.count(variant.split("#")[0]) > 1 else variant.split("#")[0]
        for variant in models
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


def ratio(table: Table, key: GroupKey, model: str, metric: str) -> float | None:
    """``model``'s mean over PCA's mean in the same group, when both exist."""
    baseline = table[key].get(BASELINE)
    mine, theirs = table[key][model].mean(metric), baseline.mean(metric) if baseline else None
    if mine is None or not theirs or model == BASELINE:
        return None
    return mine / theirs


#: Which way is better for each metric the stages log ("max": higher is better).
DIRECTIONS = {"test/auroc": "max", "test/aupr": "max", "val/auroc": "max"}


def direction(metric: str) -> str:
    """``max`` where higher is better (detection scores), ``min`` for errors and losses."""
    return DIRECTIONS.get(metric, "min")


def best_model(models: dict[str, ModelSummary], metric: str) -> str | None:
    """The model with the best mean of ``metric`` in a group of two or more models."""
    means = {name: summary.mean(metric) for name, summary in models.items()}
    found = {name: mean for name, mean in means.items() if mean is not None}
    if len(found) < 2:
        return None
    pick = max if direction(metric) == "max" else min
    return pick(found, key=found.__getitem__)


def readable(value: float) -> str:
    """Four significant digits, more where a value sits close to 1 (an AUROC of 0.99998 is not 1)."""
    digits = 4
    if 0 < 1 - abs(value) < 0.01:
        digits = int(np.ceil(-np.log10(1 - abs(value)))) + 2
    return f"{value:.{digits}g}"


def markdown(table: Table, metrics: list[str]) -> str:
    """The table as Markdown: ``mean ± sample std`` per metric (no spread for a single run), the
    ratio to PCA as ``(x0.04)``, the best model of each group in bold, and per row the seeds its
    runs used and the older repeats left out."""
    arrows = {metric: "↑" if direction(metric) == "max" else "↓" for metric in metrics}
    header = ["experiment", "group", "model", "runs (seeds)", *[f"{m} {arrows[m]}" for m in metrics]]
    lines = ["| " + " | ".join(header) + " |", "| --- " * len(header) + "|"]
    labels = group_labels(table)
    for key, models in table.items():
        names = display_names(models)
        best = {metric: best_model(models, metric) for metric in metrics}
        for model in sorted(models, key=lambda name: (name == BASELINE, name)):
            summary = models[model]
            cells = []
            for metric in metrics:
                mean, std = summary.mean(metric), summary.std(metric)
                if mean is None:
                    cells.append("")
                    continue
                cell = readable(mean) + (f" ± {std:.2g}" if std is not None else "")
                factor = ratio(table, key, model, metric)
                cell += f" (x{factor:.4g})" if factor is not None else ""
                cells.append(f"**{cell}**" if best[metric] == model else cell)
            seeds = ", ".join(seed for seed in summary.seeds if seed) or "-"
            runs = f"{len(summary.run_ids)} ({seeds})"
            runs += f", {len(summary.replaced)} older repeats left out" if summary.replaced else ""
            row = [key.experiment, labels[key], names[model], runs, *cells]
            lines.append("| " + " | ".join(row) + " |")
    legend = (
        "↑ higher is better, ↓ lower is better; bold: the best model of the group; (xR): mean over PCA's."
    )
    return "\n".join([*lines, "", legend]) + "\n"


def run_list(table: Table, link: Callable[[str], str]) -> str:
    """Every run the table used, and every older repeat it left out, with a link to each."""
    lines = ["| group | model | run | used |", "| --- | --- | --- | --- |"]
    labels = group_labels(table)
    for key, models in table.items():
        for model, summary in models.items():
            for run_ids, used in ((summary.run_ids, "yes"), (summary.replaced, "no: an older repeat")):
                lines += [
                    f"| {labels[key]} | {model} | [{run_id}]({link(run_id)}) | {used} |" for run_id in run_ids
                ]
    return "\n".join(lines) + "\n"


def summary_metrics(table: Table, metrics: list[str]) -> dict[str, float]:
    """Each model's mean per metric, as metric names of the compare run (``<group>/<model>/<metric>``)."""
    found = {}
    for key, models in table.items():
        names = display_names(models)
        for model, summary in models.items():
            for metric in metrics:
                mean = summary.mean(metric)
                if mean is not None:
                    found[f"{key.slug}/{names[model]}/{metric}"] = mean
    return found


def representatives(models: dict[str, ModelSummary]) -> dict[str, ModelSummary]:
    """One variant per model name (the one with the most runs): what the figures show of a group
    whose model was swept over its settings."""
    found: dict[str, ModelSummary] = {}
    for variant, summary in models.items():
        base = variant.split("#")[0]
        if base not in found or len(summary.run_ids) > len(found[base].run_ids):
            found[base] = summary
    return dict(sorted(found.items(), key=lambda item: (item[0] == BASELINE, item[0])))


def shown_run(summary: ModelSummary) -> tuple[str, str]:
    """``(run id, seed)`` of the run a figure shows for a model: its lowest seed, so that models
    trained on several seeds are shown at the same one."""
    order = sorted(
        range(len(summary.seeds)), key=lambda i: (not summary.seeds[i].isdigit(), summary.seeds[i].zfill(12))
    )
    return summary.run_ids[order[0]], summary.seeds[order[0]]


def group_outputs(client: MlflowClient, models: dict[str, ModelSummary]) -> dict[str, RunOutputs]:
    """Per model of a group (one variant each), the outputs its shown run logged, named
    ``model (seed N)``; runs logged without outputs are left out."""
    found = {}
    for name, summary in representatives(models).items():
        run_id, seed = shown_run(summary)
        arrays = load_arrays(client, run_id, OUTPUTS_PATH)
        if arrays is not None:
            found[f"{name} (seed {seed})" if seed else name] = RunOutputs.from_arrays(arrays)
    return found


def bar_chart(table: Table, metrics: list[str]) -> Figure:
    """One panel per metric: a bar per model in each group (its most-run variant), labelled with its
    mean, error bars the spread over seeds. Errors that span decades get a log axis (an autoencoder's
    error can be a thousandth of PCA's); detection scores zoom in on the values they take, so that
    0.9957 and 0.9952 do not look the same."""
    shown = [m for m in metrics if any(s.mean(m) is not None for g in table.values() for s in g.values())]
    bases = sorted({variant.split("#")[0] for group in table.values() for variant in group})

    figure = Figure(figsize=(max(7, 2.2 * len(table) + 3), 2.9 * len(shown)), layout="constrained")
    axes = figure.subplots(len(shown), 1, squeeze=False)
    width = 0.8 / max(1, len(bases))
    labels = group_labels(table)
    for ax, metric in zip(axes[:, 0], shown, strict=True):
        values = []
        for index, base in enumerate(bases):
            picked = [representatives(group).get(base) for group in table.values()]
            means = [np.nan if p is None or p.mean(metric) is None else p.mean(metric) for p in picked]
            stds = [0.0 if p is None or p.std(metric) is None else p.std(metric) for p in picked]
            positions = np.arange(len(table)) + (index - (len(bases) - 1) / 2) * width
            bars = ax.bar(positions, means, width, yerr=stds, label=base)
            ax.bar_label(bars, [readable(m) if np.isfinite(m) else "" for m in means], fontsize=7)
            values += [m for m in means if np.isfinite(m)]
        arrow = "higher is better" if direction(metric) == "max" else "lower is better"
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} ({arrow})", fontsize=9)
        if direction(metric) == "max":  # scores in [0, 1]: show the range they take, with room for labels
            low = min(values)
            ax.set_ylim(max(0.0, low - 0.25 * (1.0 - low) - 0.01), 1.0 + 0.15 * (1.0 - low) + 0.005)
        elif values and min(values) > 0 and max(values) / min(values) > 30:
            ax.set_yscale("log")
        ax.set_xticks(np.arange(len(table)), [labels[key] for key in table], fontsize=8)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle("models per group: mean over seeds, error bars the sample spread")
    return figure
