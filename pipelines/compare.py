"""Compare autoencoders with their PCA baselines from the runs in MLflow: ``python -m pipelines.compare``.

Prints a Markdown table, and records it with a bar chart as a ``stage=compare`` run in each compared
experiment, so it sits next to the runs it summarises in the UI.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hydra
import matplotlib.pyplot as plt
from omegaconf import DictConfig, open_dict

from autoencoders import comparison, tracking
from autoencoders.errors import ConfigError
from pipelines.common import CONFIG_DIR, one_line_errors, pipeline_run


def compare(cfg: DictConfig) -> str:
    """Build the table from the store, print it, and log one compare run per experiment."""
    metrics = list(cfg.metrics)
    names = list(cfg.experiments) if cfg.experiments else None
    client = tracking.prepare_store(cfg.tracking.uri)
    table = comparison.collect(client, names, metrics)
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
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.tracking.experiment = experiment
    compared = sum(len(summary.run_ids) for models in table.values() for summary in models.values())
    tags = {"stage": "compare", "compared_runs": str(compared)}
    with pipeline_run(cfg, tags) as (client, experiment_id, run_id):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "table.md"
            path.write_text(comparison.markdown(table, metrics))
            client.log_artifact(run_id, str(path), "compare")
        figure = comparison.bar_chart(table, metrics)
        client.log_figure(run_id, figure, "compare/bars.png")
        plt.close(figure)
    print(f"compare run {run_id} logged in {experiment} ({compared} runs)")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="compare")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        compare(cfg)


if __name__ == "__main__":
    main()
