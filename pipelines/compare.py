"""Compare autoencoders with their baselines from the runs in MLflow: ``python -m pipelines.compare``.

Prints a Markdown table, and records it with a bar chart as a ``stage=compare`` run in each compared
experiment, so it sits next to the runs it summarises in the UI.
"""

from __future__ import annotations

from autoencoders.util.startup import libraries_loading, run_and_exit

with libraries_loading():
    from omegaconf import DictConfig, open_dict

    from autoencoders import comparison
    from autoencoders.comparison.record import record_comparison
    from autoencoders.errors import ConfigError
    from autoencoders.tracking.resume import print_link
    from autoencoders.tracking.store import prepare_store
    from pipelines import hydra_glue as glue


def compare(cfg: DictConfig) -> str:
    """Build the table from the store, print it, and log one compare run per experiment."""
    cfg = glue.checked(cfg, "compare")
    metrics = list(dict.fromkeys([*cfg.metrics, cfg.rank_by]))
    names = list(cfg.experiments) if cfg.experiments else None
    # val/auroc besides: the recommendation ranks on validation, whatever the table shows
    collected = list(dict.fromkeys([*metrics, comparison.RECOMMEND_BY]))
    table = comparison.collect(prepare_store(cfg.tracking.uri), names, collected)
    if not table:
        where = f"experiments {names}" if names else "any experiment"
        raise ConfigError(
            f"no FINISHED train or baseline runs in {where} at {cfg.tracking.uri}: run them first"
        )
    # A metric no compared run has (a series' test/vus_pr among tables) makes no empty column
    held = {metric for models in table.values() for summary in models.values() for metric in summary.values}
    metrics = [metric for metric in metrics if metric in held or metric == cfg.rank_by]
    text = comparison.markdown(table, metrics, cfg.rank_by)
    print(text)

    def open_run(experiment: str, tags: dict[str, str], name: str):  # noqa: ANN202 - a context manager
        with open_dict(cfg):
            cfg.tracking.experiment = experiment
        return glue.stage_run(cfg, tags, name)

    for experiment, experiment_id, run_id, compared in record_comparison(
        table, metrics, cfg.rank_by, open_run, cfg.tracking.ui_url
    ):
        what = f"the comparison of {compared} runs in {experiment}"
        print_link(cfg.tracking.uri, cfg.tracking.ui_url, experiment_id, run_id, what)
    return text


@glue.stage_main("compare")
def main(cfg: DictConfig) -> None:
    with glue.one_line_errors():
        compare(cfg)


if __name__ == "__main__":
    run_and_exit(main)
