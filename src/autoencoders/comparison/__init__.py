"""Autoencoders next to their baselines, from the runs an MLflow store holds: ``groups`` finds and
summarises the runs, ``report`` writes and draws the comparison, ``record`` logs it as a run."""

from autoencoders.comparison.groups import (
    Table,
    best_model,
    collect,
    display_names,
    group_folders,
    group_labels,
    verdict,
)
from autoencoders.comparison.report import (
    RECOMMEND_BY,
    bar_chart,
    group_outputs,
    markdown,
    readable,
    recommendation,
    run_list,
    table_frame,
)

__all__ = [
    "RECOMMEND_BY",
    "Table",
    "bar_chart",
    "best_model",
    "collect",
    "display_names",
    "group_folders",
    "group_labels",
    "group_outputs",
    "markdown",
    "readable",
    "recommendation",
    "run_list",
    "table_frame",
    "verdict",
]
