"""The comparison as MLflow runs: one ``stage=compare`` run in each compared experiment, beside the
runs it summarises."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from autoencoders.comparison.groups import Table, group_folders, group_labels
from autoencoders.comparison.report import bar_chart, group_outputs, markdown, run_list, table_frame
from autoencoders.figures.group_figures import draw_group
from autoencoders.tracking.runs import log_figures, ui_link

#: Opens the compare run of one experiment: ``(experiment, tags, run name) -> (client, experiment
#: id, run id)`` as a context manager (the entry point's MLflow run, with its config as params).
RunOpener = Callable[[str, dict[str, str], str], AbstractContextManager[tuple[Any, str, str]]]


def record_comparison(
    table: Table, metrics: list[str], rank_by: str, open_run: RunOpener, ui_url: str
) -> list[tuple]:
    """Per experiment, its compare run: the table (Markdown with its verdicts by ``rank_by``, and
    rows for MLflow's table view), the bar chart of its groups, the runs it used, and per group a
    folder of figures with its models on shared axes. No metrics: the experiment's chart view
    stays the runs'. Returns ``(experiment, experiment id, run id, runs compared)`` per run."""
    recorded = []
    for experiment in sorted({key.experiment for key in table}):
        part = {key: models for key, models in table.items() if key.experiment == experiment}
        compared = sum(len(summary.run_ids) for models in part.values() for summary in models.values())
        tags = {"stage": "compare", "compared_runs": str(compared)}
        with open_run(experiment, tags, f"compare {experiment}") as (client, experiment_id, run_id):
            client.log_text(run_id, markdown(part, metrics, rank_by), "table.md")
            client.log_table(run_id, table_frame(part, metrics), "table.json")
            bars = bar_chart(part, metrics)
            if bars is not None:
                client.log_figure(run_id, bars, "bars.png")
            client.log_text(run_id, run_list(part, partial(ui_link, ui_url, experiment_id)), "runs.md")
            labels, folders = group_labels(part), group_folders(part)
            for key, models in part.items():
                figures = draw_group(group_outputs(client, models), labels[key])
                log_figures(client, run_id, {f"{folders[key]}/{name}": fig for name, fig in figures.items()})
        recorded.append((experiment, experiment_id, run_id, compared))
    return recorded
