"""What the train and baseline stages do inside their MLflow run, given built objects.

Both end in :func:`record_evaluation`, one straight line: evaluate (``evaluation``) -> draw
(``figures``) -> log (``tracking``), so the autoencoders and the baselines log the same metric
names and figures, computed by the same code.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from mlflow.tracking import MlflowClient
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint

from autoencoders.anomaly.autoencoder import AutoencoderDetector
from autoencoders.anomaly.detector import AnomalyDetector
from autoencoders.data.base import InMemoryDataModule
from autoencoders.deploy.detector import DeployedDetector, DetectorSpec, input_columns, save_detector
from autoencoders.evaluation.metrics import Evaluation, evaluate
from autoencoders.evaluation.records import OUTPUTS_PATH, run_outputs
from autoencoders.evaluation.streamed import streamed_metrics
from autoencoders.figures.run_figures import draw
from autoencoders.registry import DETECTORS
from autoencoders.tracking import models, runs
from autoencoders.tracking.logger import BufferedMLFlowLogger
from autoencoders.tracking.resume import (
    CHECKPOINT_DIR_TAG,
    log_unlogged,
    mark_server_gone,
    marked_checkpoints,
    server_gone,
)
from autoencoders.tracking.store import unanswered
from autoencoders.training.fit import fit_best, relocate_checkpoint
from autoencoders.training.module import AutoencoderModule
from autoencoders.training.selection import Selection

log = logging.getLogger(__name__)


def run_tags(stage: str, datamodule: InMemoryDataModule, model: str, code_dim: int) -> dict[str, str]:
    """The tags every train and baseline run carries (the run contract)."""
    return {
        "stage": stage,
        "dataset": datamodule.name,
        "model": model,
        **datamodule.tags,
        "code_dim": str(code_dim),
    }


@dataclass(frozen=True)
class DetectorSettings:
    """How a run's detector decides (``anomaly.threshold_quantile``) and where it is registered
    (``register_as``, a Model Registry name; None: not registered)."""

    threshold_quantile: float
    contamination: float  # anomaly.contamination: > 0, the threshold comes from the training scores
    trim: bool  # anomaly.trim: fit again without the training rows in the top contamination share
    register_as: str | None
    score: str  # the autoencoders' anomaly.score (autoencoders.anomaly.scores.SCORES)
    fallback: str  # anomaly.fallback: what score=auto uses without validation anomalies
    point_score: str  # anomaly.point_score: a series' score per time point (evaluation.points)
    threshold: str = "auto"  # anomaly.threshold: how the threshold is chosen (evaluation.thresholds)


def record_evaluation(
    client: MlflowClient,
    run_id: str,
    detector: AnomalyDetector,
    datamodule: InMemoryDataModule,
    settings: DetectorSettings,
) -> Evaluation:
    """Evaluate the fitted ``detector`` on the datamodule's splits (which sets its ``threshold_``),
    draw the figures, log both into the run with the outputs a comparison draws from
    (:mod:`autoencoders.evaluation.records`).

    Final metrics go in at step 0, where the MLflow chart view draws them as one bar per run."""
    splits = datamodule.splits
    runs.log_splits(client, run_id, datamodule.name, splits, datamodule.data_source)
    quantile, contamination = settings.threshold_quantile, settings.contamination
    evaluation = evaluate(detector, splits, quantile, contamination, settings.threshold, settings.point_score)
    streamed = datamodule.streamed_rows()
    if streamed is not None:  # the splits are samples: the test metrics come from every row
        every_row, n_tested = streamed_metrics(detector, streamed, evaluation.threshold)
        evaluation.metrics |= every_row
        evaluation.notes["evaluation.rows"] = (
            f"test metrics on all {n_tested} test rows; the threshold, val/auroc and the figures on "
            f"samples ({len(splits.val)} validation, {len(splits.test)} test rows)"
        )
    runs.log_metrics(client, run_id, evaluation.metrics, step=0)
    client.set_tag(run_id, "threshold.rule", evaluation.threshold_rule)
    if evaluation.point_scorer is not None:  # a series: what anomaly.point_score=auto resolved to
        client.set_tag(run_id, "anomaly.point_score", evaluation.point_scorer.rule)
    for key, note in evaluation.notes.items():
        client.set_tag(run_id, key, note)
        log.warning("%s %s", key, note)
    for path, content in datamodule.records().items():
        client.log_dict(run_id, content, path)
    box = getattr(datamodule, "error_map_box", None)
    outputs = run_outputs(detector, splits, evaluation, datamodule.kind, box, datamodule.feature_columns)
    runs.log_arrays(client, run_id, outputs.arrays(), OUTPUTS_PATH)
    runs.log_figures(client, run_id, draw(detector, splits, evaluation, outputs, detector.label))
    return evaluation


def trim_training(datamodule: InMemoryDataModule, detector: AnomalyDetector, share: float) -> int:
    """Leave out the training samples ``detector`` scores in the top ``share`` (anomalies that no
    label kept out of training), for the fit that follows; returns how many."""
    datamodule.check_trimmable()
    scores = detector.decision_function(datamodule.splits.train)
    keep = scores <= np.quantile(scores, 1 - share)
    datamodule.keep_training(keep, "trimmed_rows")
    left_out = int((~keep).sum())
    log.info(
        "anomaly.trim: left out the %d top-scored of %d training samples; fitting again", left_out, len(keep)
    )
    return left_out


def trim_after_a_first_fit(
    module: AutoencoderModule,
    datamodule: InMemoryDataModule,
    trainer: pl.Trainer,
    checkpoint: ModelCheckpoint,
    settings: DetectorSettings,
) -> int:
    """``anomaly.trim`` for an autoencoder: a first training (recorded nowhere), its score on the
    training samples, and :func:`trim_training` by it."""
    datamodule.check_trimmable()  # before the first training, not after it
    # Nothing logs the first training: the learning-rate monitor would refuse a trainer without a logger.
    trainer.callbacks = [found for found in trainer.callbacks if not isinstance(found, LearningRateMonitor)]
    fit_best(module, datamodule, trainer, checkpoint)
    detector = autoencoder_detector(module, datamodule, settings)
    return trim_training(datamodule, detector, settings.contamination)


def autoencoder_detector(
    module: AutoencoderModule, datamodule: InMemoryDataModule, settings: DetectorSettings
) -> AutoencoderDetector:
    """The trained network as a detector, its score fitted on the datamodule's splits."""
    splits = datamodule.splits
    detector = AutoencoderDetector(module.net.cpu().eval(), settings.score, settings.fallback)
    return detector.fit(splits.train, splits.val, splits.val_anomalies, datamodule.feature_columns)


@dataclass(frozen=True)
class Resume:
    """Where an interrupted run continues: its last checkpoint, fetched from the run (or from this
    machine, where its tracking server stopped answering), and per metric the last epoch the run
    already holds."""

    checkpoint: Path
    logged_steps: dict[str, int]


def prepare_resume(client: MlflowClient, run_id: str, checkpoint_dir: Path) -> Resume:
    """Bring the run's last checkpoint (and ``best.ckpt``, into ``checkpoint_dir``, where the training
    keeps its checkpoints) and point the saved checkpoint state at that folder. They come from the
    folder this machine marked when the run's tracking server stopped answering (whose unlogged
    metrics are logged first), else from the run's ``checkpoints/`` artifacts. The run's
    ``checkpoint_dir`` tag then names the new folder."""
    resume_dir = checkpoint_dir.parent / "resume"
    places = {"last.ckpt": resume_dir, "best.ckpt": checkpoint_dir}
    for folder in places.values():
        folder.mkdir(parents=True, exist_ok=True)
    marked = marked_checkpoints(client.get_run(run_id))
    if marked:
        for name, folder in places.items():  # copies: the marked folder stays as it was
            if (marked / name).is_file() and (marked / name).resolve() != (folder / name).resolve():
                shutil.copy2(marked / name, folder / name)
        log_unlogged(client, run_id, marked)
    else:
        kept = {Path(item.path).name for item in client.list_artifacts(run_id, "checkpoints")}
        for name, folder in places.items():
            if name in kept:
                with tempfile.TemporaryDirectory() as tmp:
                    shutil.move(client.download_artifacts(run_id, f"checkpoints/{name}", tmp), folder / name)
    client.set_tag(run_id, CHECKPOINT_DIR_TAG, str(checkpoint_dir))
    relocate_checkpoint(resume_dir / "last.ckpt", checkpoint_dir)
    metrics = client.get_run(run_id).data.metrics
    logged = {key: max(point.step for point in client.get_metric_history(run_id, key)) for key in metrics}
    return Resume(resume_dir / "last.ckpt", logged)


def keep_checkpoints(client: MlflowClient, run_id: str, checkpoint: ModelCheckpoint) -> bool:
    """Log the last and best checkpoints of an interrupted fit into its run (``checkpoints/``), so
    that it can be resumed here or on another machine. Whether a last checkpoint was kept."""
    kept = False
    for path in (checkpoint.last_model_path, checkpoint.best_model_path):
        if path and Path(path).exists():
            with contextlib.suppress(Exception):
                client.log_artifact(run_id, path, "checkpoints")
                kept = kept or Path(path).name == "last.ckpt"
    return kept


def record_detector(
    tracking_uri: str,
    run_id: str,
    detector: AnomalyDetector,
    datamodule: InMemoryDataModule,
    settings: DetectorSettings,
    evaluation: Evaluation,
) -> str:
    """Log the run's fitted, thresholded ``detector`` as its ``anomaly_detector`` (and register it
    under ``settings.register_as``): the detector's own files, the preprocessing and the threshold
    (a series': its windows and how they score its points, from ``evaluation``)."""
    preprocessing = datamodule.preprocessing or {"scaler": "none"}
    if evaluation.point_scorer is not None:
        preprocessing = {**preprocessing, "point_score": evaluation.point_scorer.to_json()}
    spec = DetectorSpec(
        kind=datamodule.kind,
        columns=input_columns(datamodule.kind, datamodule.input_shape, datamodule.input_columns),
        input_shape=list(datamodule.input_shape),
        threshold=float(detector.threshold_),
        detector=DETECTORS.name_of(type(detector)),
        state={},
        preprocessing=preprocessing,
        features=datamodule.feature_columns,
    )
    deployed = DeployedDetector(spec, detector)
    example = deployed.checked(datamodule.input_example())
    with tempfile.TemporaryDirectory() as folder:
        artifacts = save_detector(Path(folder), spec, detector)
        uri = models.log_detector(tracking_uri, run_id, artifacts, example, deployed.predict(example))
    if settings.register_as:
        version = models.register(tracking_uri, run_id, uri, settings.register_as)
        log.info("registered the detector as models:/%s/%s", settings.register_as, version)
    return uri


def train_and_record(
    module: AutoencoderModule,
    datamodule: InMemoryDataModule,
    trainer: pl.Trainer,
    checkpoint: ModelCheckpoint,
    selection: Selection,
    client: MlflowClient,
    run_id: str,
    tracking_uri: str,
    resume: Resume | None,
    settings: DetectorSettings,
) -> dict[str, float]:
    """Fit logging into ``run_id`` (from ``resume`` when given), restore the checkpoint
    ``selection`` chose, then evaluate and log it with its checkpoint and model. Returns the final
    metrics, the selection metric's value for that model among them (``{}`` on ranks other than
    zero). A fit that stops early (Ctrl-C, SIGTERM, an error) leaves its checkpoints in the run; one
    whose tracking server stopped answering leaves them here, marked for ``resume``
    (:class:`~autoencoders.errors.TrackingServerGone`)."""
    logger = BufferedMLFlowLogger(
        tracking_uri=tracking_uri,
        run_id=run_id,
        epoch=lambda: trainer.current_epoch + 1,
        logged_steps=resume.logged_steps if resume else None,
    )
    trainer.logger = logger
    try:
        chosen = fit_best(module, datamodule, trainer, checkpoint, resume.checkpoint if resume else None)
    except BaseException as error:
        if not trainer.is_global_zero:
            raise
        if unanswered(error):  # nowhere to upload them: the checkpoints stay here, marked
            kept = mark_server_gone(Path(checkpoint.dirpath), run_id, logger.pending)
            raise server_gone(tracking_uri, run_id, error, kept) from error
        keep_checkpoints(client, run_id, checkpoint)
        raise
    if not trainer.is_global_zero:
        return {}
    client.set_tag(run_id, "world_size", str(trainer.world_size))  # processes that trained
    if chosen.path:
        client.log_artifact(run_id, chosen.path, "checkpoints")
        client.set_tag(run_id, "best_epoch", str(chosen.epoch + 1))  # counted from 1, as the curves
    detector = autoencoder_detector(module, datamodule, settings)
    # What anomaly.score=auto chose, as a param beside anomaly.score (the UI compares params)
    client.log_param(run_id, "anomaly.score_used", detector.score_.name)
    client.set_tag(run_id, "anomaly.score", detector.score_.name)
    log.info("anomaly score: %s (anomaly.score=%s)", detector.score_.name, settings.score)
    evaluation = record_evaluation(client, run_id, detector, datamodule, settings)
    metrics = dict(evaluation.metrics)
    if selection.metric not in metrics:  # a per-epoch metric (val/loss): the chosen model's value
        metrics[selection.metric] = module.validation_loss(datamodule.splits.val)
    runs.log_metrics(client, run_id, {selection.best_key: metrics[selection.metric]})
    record_detector(tracking_uri, run_id, detector, datamodule, settings, evaluation)
    return metrics
