"""Compare autoencoders with their PCA baselines from the runs in MLflow: ``python -m pipelines.compare``.

Prints a Markdown table, and records it with a bar chart as a ``stage=compare`` run in each compared
experiment, so it sits next to the runs it summarises in the UI.
"""

from __future__ import annotations

from functools import partial

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    import hydra
    from omegaconf import DictConfig, open_dict

    from autoencoders import comparison
    from autoencoders.errors import ConfigError
    from autoencoders.figures.group_figures import draw_group
    from autoencoders.tracking.runs import log_figures, log_metrics, ui_link
    from autoencoders.tracking.store import prepare_store
    from pipelines.common import CONFIG_DIR, one_line_errors
    from pipelines.job import print_link, stage_run
    from pipelines.schema import check


def compare(cfg: DictConfig) -> str:
    """Build the table from the store, print it, and log one compare run per experiment."""
    check(cfg, "compare")
    metrics = list(cfg.metrics)
    names = list(cfg.experiments) if cfg.experiments else None
    table = comparison.collect(prepare_store(cfg.tracking.uri), names, metrics)
    if not table:
        where = f"experiments {names}" if names else "any experiment"
        raise ConfigError(
            f"no FINISHED train or pca_baseline runs in {where} at {cfg.tracking.uri}: "
            "run pipelines.train and pipelines.pca_baseline first"
        )
    text = comparison.markdown(table, metrics)
    print(text)
    for experiment in sorted({key.experiment for key in table}):
        part = {key: models for key, models in table.items() if key.experiment == experiment}
        record(cfg, experiment, part, metrics)
    return text


def record(cfg: DictConfig, experiment: str, table: comparison.Table, metrics: list[str]) -> None:
    """One ``stage=compare`` run in ``experiment``: the table, the bar chart of its groups, the runs
    it used, and per group a folder of figures with its models on shared axes."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.tracking.experiment = experiment
    compared = sum(len(summary.run_ids) for models in table.values() for summary in models.values())
    tags = {"stage": "compare", "compared_runs": str(compared)}
    with stage_run(cfg, tags, f"compare {experiment}") as (client, experiment_id, run_id):
        client.log_text(run_id, comparison.markdown(table, metrics), "table.md")
        client.log_figure(run_id, comparison.bar_chart(table, metrics), "bars.png")
        link = partial(ui_link, cfg.tracking.ui_url, experiment_id)
        client.log_text(run_id, comparison.run_list(table, link), "runs.md")
        log_metrics(client, run_id, comparison.summary_metrics(table, metrics))
        labels, folders = comparison.group_labels(table), comparison.group_folders(table)
        for key, models in table.items():
            figures = draw_group(comparison.group_outputs(client, models), labels[key])
            log_figures(
                client, run_id, {f"{folders[key]}/{name}": figure for name, figure in figures.items()}
            )
    print_link(cfg.tracking, experiment_id, run_id, f"the comparison of {compared} runs in {experiment}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="compare")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        compare(cfg)


if __name__ == "__main__":
    main()
