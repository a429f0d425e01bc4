"""Train an autoencoder and record the run in MLflow: ``python -m pipelines.train [overrides]``."""

from __future__ import annotations

import functools
import logging

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from autoencoders.devices import check_accelerator
from autoencoders.training import fit_and_record
from pipelines.common import CONFIG_DIR, build, one_line_errors, output_dir, pipeline_run, report

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Build everything the config names, then fit, evaluate and record one MLflow run.

    Every object is built, and every setting checked, before the run is created: a bad value
    never leaves a run behind.
    """
    if cfg.num_threads:
        torch.set_num_threads(int(cfg.num_threads))
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build(cfg.dataset)
    module = build(cfg.model)
    check_accelerator(cfg.trainer.accelerator)
    datamodule.prepare_data()  # loads (downloads, caches) the data: a missing source fails here
    workdir = output_dir(cfg)
    make_trainer = functools.partial(build, cfg.trainer, default_root_dir=str(workdir))

    tags = {"stage": "train", "dataset": datamodule.name, "model": module.name, **datamodule.tags}
    tags["code_dim"] = str(module.code_dim)
    with pipeline_run(cfg, tags) as (client, experiment_id, run_id):
        metrics = fit_and_record(module, datamodule, make_trainer, client, run_id, cfg.tracking.uri, workdir)
    report(cfg, experiment_id, run_id, metrics)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` for sweepers that optimise it (Optuna)."""
    with one_line_errors():
        return train(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
