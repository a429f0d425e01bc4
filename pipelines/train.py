"""Train an autoencoder and record the run in MLflow: ``python -m pipelines.train [overrides]``."""

from __future__ import annotations

import logging

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from autoencoders.devices import check_accelerator, node_rank
from autoencoders.errors import ConfigError
from autoencoders.lightning import AutoencoderModule
from autoencoders.training import fit_and_record, training_callbacks
from pipelines.common import CONFIG_DIR, build, job_dir, one_line_errors, pipeline_run, print_summary

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
    check_optimizer(module)
    check_accelerator(cfg.trainer.accelerator)
    datamodule.prepare_data()  # loads (downloads, caches) the data: a missing source fails here
    with job_dir() as workdir:
        checkpoint, callbacks = training_callbacks(datamodule, workdir, cfg.trainer.max_epochs)
        trainer = build(cfg.trainer, default_root_dir=str(workdir), callbacks=callbacks, logger=False)
        if node_rank() > 0:  # the other nodes of a multi-node job train; node zero's rank zero records
            trainer.fit(module, datamodule=datamodule)
            return {}
        tags = {"stage": "train", "dataset": datamodule.name, "model": module.name, **datamodule.tags}
        tags["code_dim"] = str(module.code_dim)
        with pipeline_run(cfg, tags) as (client, experiment_id, run_id):
            metrics = fit_and_record(
                module, datamodule, trainer, checkpoint, client, run_id, cfg.tracking.uri
            )
    print_summary(cfg, experiment_id, run_id, metrics)
    return metrics


def check_optimizer(module: AutoencoderModule) -> None:
    """Build the optimizer and scheduler once, so that a bad setting fails before the run exists."""
    try:
        module.configure_optimizers()
    except (TypeError, ValueError) as error:
        raise ConfigError(f"model.optimizer / model.scheduler: {error}") from error


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` for sweepers that optimise it (Optuna)."""
    with one_line_errors():
        return train(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
