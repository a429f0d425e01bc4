"""The comparison as people read it: a Markdown table with its verdicts, the same table as rows for
MLflow's table view, the list of runs it used, the bar chart, and the outputs each group's figures
are drawn from."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from autoencoders.comparison.groups import (
    BASELINE,
    ModelSummary,
    Table,
    Verdict,
    best_model,
    direction,
    display_names,
    group_labels,
    verdict,
)
from autoencoders.evaluation.records import OUTPUTS_PATH, RunOutputs
from autoencoders.figures.colours import model_colour
from autoencoders.tracking.runs import load_arrays
from autoencoders.util.files import markdown_table


def readable(value: float) -> str:
    """Four significant digits, more where a value sits close to 1 (an AUROC of 0.99998 is not 1)."""
    digits = 4
    if 0 < 1 - abs(value) < 0.01:
        digits = int(np.ceil(-np.log10(1 - abs(value)))) + 2
    return f"{value:.{digits}g}"


def markdown(table: Table, metrics: list[str], rank_by: str | None = None) -> str:
    """The table as Markdown: ``mean ± sample std`` per metric (no spread for a single run), in
    bold the model ahead of every other of its group by more than the seeds' spread, per row the
    seeds its runs used and the older repeats left out; then, per group, what ``rank_by`` says."""
    arrows = {metric: "↑" if direction(metric) == "max" else "↓" for metric in metrics}
    header = ["experiment", "group", "model", "runs (seeds)", *[f"{m} {arrows[m]}" for m in metrics]]
    rows = []
    labels = group_labels(table)
    for key, models in table.items():
        names = display_names(models)
        best = {metric: best_model(models, metric) for metric in metrics}
        for model in sorted(models, key=lambda name: (name == BASELINE, name)):
            summary = models[model]
            cells = []
            for metric in metrics:
                mean, std = summary.mean(metric), summary.std(metric)
                cell = "" if mean is None else readable(mean) + (f" ± {std:.2g}" if std is not None else "")
                cells.append(f"**{cell}**" if cell and best[metric] == model else cell)
            seeds = ", ".join(seed for seed in summary.seeds if seed) or "-"
            runs = f"{len(summary.run_ids)} ({seeds})"
            runs += f", {len(summary.replaced)} older repeats left out" if summary.replaced else ""
            rows.append([key.experiment, labels[key], names[model], runs, *cells])
    legend = (
        "↑ higher is better, ↓ lower is better; ± the sample spread over seeds; bold: ahead of every "
        "other model of the group by more than that spread."
    )
    parts = [markdown_table(header, rows), "", legend]
    if rank_by:
        found = {key: verdict(models, rank_by) for key, models in table.items()}
        said = [
            f"- {labels[key]}: {verdict_text(v, display_names(table[key]))}" for key, v in found.items() if v
        ]
        parts += ["", f"Ranked by {rank_by} (`rank_by`):", *said] if said else []
    advice = [
        f"- {labels[key]}: {recommendation(models)}" for key, models in table.items() if len(models) > 1
    ]
    parts += (
        ["", f"To deploy, ranked on validation ({RECOMMEND_BY}; the test set is never used):", *advice]
        if advice
        else []
    )
    return "\n".join(parts) + "\n"


#: What the recommendation ranks by: validation only, so that choosing a model does not use the test set.
RECOMMEND_BY = "val/auroc"


def recommendation(models: dict[str, ModelSummary]) -> str:
    """Which model of a group to deploy and by how much, on the validation split alone (a classic
    detector when it leads), or why nothing can be ranked."""
    means = {
        name: mean for name, summary in models.items() if (mean := summary.mean(RECOMMEND_BY)) is not None
    }
    if len(means) < 2:
        return f"no {RECOMMEND_BY} to rank by (the validation split holds no anomalies)"
    names = display_names(models)
    ranked = sorted(means, key=means.__getitem__, reverse=True)
    first, second = ranked[:2]
    gap = means[first] - means[second]
    spread = max(
        (std for name in (first, second) if (std := models[name].std(RECOMMEND_BY)) is not None), default=None
    )
    said = f"{names[first]} ({RECOMMEND_BY} {means[first]:.4f}, {gap:+.4f} over {names[second]}"
    said += ", within the seeds' spread)" if spread is not None and gap <= spread else ")"
    return said + f": runs:/{models[first].run_ids[0]}/anomaly_detector"


def verdict_text(found: Verdict, names: dict[str, str]) -> str:
    """One sentence: the best model, a tie and with whom, or a ceiling that separates nothing."""
    if found.ceiling:
        return f"every model scores 1.0 on {found.metric}: this test set does not separate them"
    leader = names[found.leader]
    if found.best:
        return f"{leader}, ahead of every other model by more than the seeds' spread"
    level = [names[name] for name in found.level if name not in found.unknown_spread]
    said = f"{leader} leads" + (f", level with {', '.join(level)} within the seeds' spread" if level else "")
    if found.unknown_spread:
        single = ", ".join(names[name] for name in found.unknown_spread)
        said += f"; against {single}: single runs, no spread over seeds to tell a lead from chance"
    return said


def table_frame(table: Table, metrics: list[str]) -> pd.DataFrame:
    """The table as rows, one per model of a group (mean, std and runs per metric): what the
    compare run logs for MLflow's table view."""
    labels = group_labels(table)
    rows = []
    for key, models in table.items():
        names = display_names(models)
        for model, summary in models.items():
            row = {"experiment": key.experiment, "group": labels[key], "model": names[model]}
            row |= {"runs": len(summary.run_ids), "seeds": ", ".join(summary.seeds)}
            for metric in metrics:
                row |= {f"{metric} mean": summary.mean(metric), f"{metric} std": summary.std(metric)}
            rows.append(row)
    return pd.DataFrame(rows)


def run_list(table: Table, link: Callable[[str], str]) -> str:
    """Every run the table used, and every older repeat it left out, with a link to each."""
    rows = []
    labels = group_labels(table)
    for key, models in table.items():
        for model, summary in models.items():
            for run_ids, used in ((summary.run_ids, "yes"), (summary.replaced, "no: an older repeat")):
                rows += [[labels[key], model, f"[{run_id}]({link(run_id)})", used] for run_id in run_ids]
    return markdown_table(["group", "model", "run", "used"], rows) + "\n"


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


def bar_chart(table: Table, metrics: list[str]) -> Figure | None:
    """One panel per metric: a bar per model in each group (its most-run variant), labelled with its
    mean, error bars the spread over seeds, every axis from zero (the labels carry the digits that
    tell 0.9957 from 0.9952). None when no run logged any of ``metrics``."""
    shown = [m for m in metrics if any(s.mean(m) is not None for g in table.values() for s in g.values())]
    if not shown:  # the runs logged none of the metrics
        return None
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
            bars = ax.bar(positions, means, width, yerr=stds, label=base, color=model_colour(base))
            ax.bar_label(bars, [readable(m) if np.isfinite(m) else "" for m in means], fontsize=7)
            values += [m for m in means if np.isfinite(m)]
        arrow = "higher is better" if direction(metric) == "max" else "lower is better"
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} ({arrow})", fontsize=9)
        top = 1.0 if direction(metric) == "max" else max(values, default=1.0)
        ax.set_ylim(0.0, 1.15 * top)  # from zero: a bar's height is its value
        ax.set_xticks(np.arange(len(table)), [labels[key] for key in table], fontsize=8)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle("models per group: mean over seeds, error bars the sample spread")
    return figure
