"""Train an autoencoder and record the run in MLflow: ``python -m pipelines.train [overrides]``."""

from __future__ import annotations

import functools
import logging

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from autoencoders import tracking
from autoencoders.devices import check_accelerator
from autoencoders.training import fit_and_record
from pipelines.common import CONFIG_DIR, build, config_files, flat_params, one_line_errors, output_dir

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
    workdir = output_dir(cfg)
    make_trainer = functools.partial(build, cfg.trainer, default_root_dir=str(workdir))

    client = tracking.prepare_store(cfg.tracking.uri)
    experiment_id = tracking.prepare_experiment(
        client, cfg.tracking.experiment, cfg.tracking.get("artifact_root")
    )
    tags = {"stage": "train", "dataset": datamodule.name, "model": module.name}
    with tracking.tracked_run(client, experiment_id, cfg.run_name, tags) as run_id:
        tracking.log_params(client, run_id, flat_params(cfg))
        with config_files(cfg) as folder:
            client.log_artifacts(run_id, str(folder), "config")
        metrics = fit_and_record(module, datamodule, make_trainer, client, run_id, cfg.tracking.uri, workdir)
    report(cfg, experiment_id, run_id, metrics)
    return metrics


def report(cfg: DictConfig, experiment_id: str, run_id: str, metrics: dict[str, float]) -> None:
    """Print what the run measured and where to look at it."""
    lines = [f"{name:>12}  {value:.6g}" for name, value in metrics.items()]
    print("\n".join(["", f"run {run_id} FINISHED ({cfg.tracking.experiment})", *lines]))
    if tracking.is_local_store(cfg.tracking.uri):
        print(f"open it: make ui, then http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> dict[str, float]:
    with one_line_errors():
        return train(cfg)


if __name__ == "__main__":
    main()
