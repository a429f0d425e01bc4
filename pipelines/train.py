"""Train an autoencoder and record the run in MLflow: ``python -m pipelines.train [overrides]``."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from autoencoders.util.startup import libraries_loading, run_and_exit

with libraries_loading():
    from omegaconf import DictConfig

    from pipelines import hydra_glue as glue
    from pipelines.stage_keys import settle_data_settings


def train(cfg: DictConfig) -> dict[str, float]:
    """Build (checking) everything the config names, then fit, evaluate and record one MLflow run."""
    with libraries_loading():  # here, not at the top: --help and a multirun's launcher never train
        import torch

        from autoencoders.stages import (
            DetectorSettings,
            prepare_resume,
            run_tags,
            train_and_record,
            trim_after_a_first_fit,
        )
        from autoencoders.tracking.resume import CHECKPOINT_DIR_TAG
        from autoencoders.training.fit import prepare_trainer, prepare_training
        from autoencoders.training.selection import Selection

    cfg = glue.checked(cfg, "train")
    datamodule = glue.build(cfg.dataset)
    datamodule.prepare_data()  # loads (downloads, caches) the data: a missing source fails here
    cfg = settle_data_settings(cfg, datamodule)
    selection = Selection(cfg.optimized_metric, cfg.optimized_mode)
    settings = DetectorSettings(**cfg.anomaly, register_as=cfg.register_as)
    with glue.job_dir() as workdir:
        make_trainer = partial(glue.build, cfg.trainer)

        def prepared(folder: Path) -> tuple:
            """A new module, ready to train, with its trainer and checkpoint callback."""
            module = glue.build(cfg.model)
            prepare_training(module, datamodule, selection, cfg.trainer.accelerator, cfg.num_threads)
            steps = cfg.steps_per_call
            return module, *prepare_trainer(
                module, datamodule, selection, folder, make_trainer, cfg.trainer, steps
            )

        if settings.trim:  # a first training, to find the training rows to leave out
            first, first_trainer, first_best = prepared(workdir / "untrimmed")
            trim_after_a_first_fit(first, datamodule, first_trainer, first_best, settings)
        module, trainer, best = prepared(workdir)
        if trainer.node_rank > 0:  # the other nodes of a multi-node job train; node zero records
            trainer.fit(module, datamodule=datamodule)
            return {}
        tags = run_tags("train", datamodule, module.name, module.code_dim)
        tags[CHECKPOINT_DIR_TAG] = str(best.dirpath)  # where resume finds it if the server goes away
        tags["training.threads"] = str(torch.get_num_threads())  # num_threads, or what was free
        with glue.stage_run(cfg, tags, f"{module.name} code={module.code_dim} seed={cfg.seed}") as opened:
            client, experiment_id, run_id = opened
            resume = prepare_resume(client, run_id, Path(best.dirpath)) if cfg.resume else None
            fitted = (module, datamodule, trainer, best, selection)
            metrics = train_and_record(*fitted, client, run_id, cfg.tracking.uri, resume, settings)
    glue.print_summary(cfg, experiment_id, run_id, metrics)
    return metrics


@glue.stage_main("train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` of the evaluated model, for sweepers that optimise it (Optuna)."""
    with glue.one_line_errors():
        return train(cfg).get(cfg.optimized_metric)


if __name__ == "__main__":
    run_and_exit(main)
