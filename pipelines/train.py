"""Train an autoencoder and record the run in MLflow: ``python -m pipelines.train [overrides]``."""

from __future__ import annotations

import sys
from pathlib import Path

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    import hydra
    from omegaconf import DictConfig

    from autoencoders.training.selection import Selection
    from pipelines.common import CONFIG_DIR, build, one_line_errors, settle_data_settings
    from pipelines.job import (
        job_dir,
        print_resume_hint,
        print_summary,
        resumed_config,
        resumed_run,
        stage_run,
    )
    from pipelines.schema import check


def train(cfg: DictConfig) -> dict[str, float]:
    """Build everything the config names, then fit, evaluate and record one MLflow run.

    Every object is built, and every setting checked, before the run is created: a bad value
    never leaves a run behind.
    """
    # torch and Lightning are imported here, not at the top: a multirun's launcher process
    # (joblib, SLURM), --help and --cfg never train, and their import costs ~4 s of start-up
    # (--help takes 2.7-3.2 s without them).
    with libraries_loading():
        import pytorch_lightning as pl
        import torch

        from autoencoders.stages import DetectorSettings, prepare_resume, run_tags, train_and_record
        from autoencoders.training.devices import check_accelerator, cpu_threads
        from autoencoders.training.fit import check_selection, group_steps, training_callbacks

    if cfg.get("resume"):
        cfg = resumed_config(cfg)
    checked = check(cfg, "train")
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build(cfg.dataset)
    datamodule.prepare_data()  # loads (downloads, caches) the data: a missing source fails here
    cfg = settle_data_settings(cfg, datamodule)
    if not checked:  # the settings that waited for the data (a table's width)
        check(cfg, "train")
    selection = Selection(cfg.optimized_metric, cfg.optimized_mode)
    module = build(cfg.model)
    threads = cpu_threads(sum(p.numel() for p in module.parameters()), cfg.num_threads)
    if threads:
        torch.set_num_threads(threads)
    # val/auroc each epoch: the reconstruction error, or RaPP for every score that builds on the encoder
    module.anomaly_score = "reconstruction" if cfg.anomaly.score == "reconstruction" else "rapp"
    module.check_optimizer()
    check_accelerator(cfg.trainer.accelerator)
    check_selection(selection, datamodule)
    with job_dir() as workdir:
        bar = progress_bar(cfg.trainer.get("enable_progress_bar"))
        checkpoint, callbacks = training_callbacks(
            datamodule, workdir, cfg.trainer.max_epochs, selection, bar
        )
        trainer = build(
            cfg.trainer,
            default_root_dir=str(workdir),
            callbacks=callbacks,
            logger=False,
            enable_progress_bar=bar,
        )
        group_steps(module, datamodule, trainer, cfg.get("steps_per_call"))
        if trainer.node_rank > 0:  # the other nodes of a multi-node job train; node zero records
            trainer.fit(module, datamodule=datamodule)
            return {}
        tags = run_tags("train", datamodule, module.name, module.code_dim)
        name = f"{module.name} code={module.code_dim} seed={cfg.seed}"
        opened = resumed_run(cfg) if cfg.get("resume") else stage_run(cfg, tags, name)
        with opened as (client, experiment_id, run_id):
            resume = prepare_resume(client, run_id, Path(checkpoint.dirpath)) if cfg.get("resume") else None
            try:
                metrics = train_and_record(
                    module,
                    datamodule,
                    trainer,
                    checkpoint,
                    selection,
                    client,
                    run_id,
                    cfg.tracking.uri,
                    resume,
                    DetectorSettings(
                        cfg.anomaly.threshold_quantile, cfg.get("register_as"), cfg.anomaly.score
                    ),
                )
            except BaseException:
                print_resume_hint(client, run_id)
                raise
    print_summary(cfg, experiment_id, run_id, metrics)
    return metrics


def progress_bar(setting: bool | None) -> bool:
    """``trainer.enable_progress_bar``: true or false as set; null (the default) shows Lightning's
    bar on a terminal only, so that CI and log files get the few EpochSummary lines instead."""
    return sys.stderr.isatty() if setting is None else bool(setting)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` of the evaluated model, for sweepers that optimise it (Optuna)."""
    with one_line_errors():
        return train(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
