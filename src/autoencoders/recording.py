"""Evaluate any encode/decode model on a datamodule's splits and record the result in a run.

The training stage and the PCA baseline both end here, so their metrics and figures are the same
names, computed by the same code.
"""

from __future__ import annotations

import logging

from mlflow.tracking import MlflowClient

from autoencoders import tracking
from autoencoders.data.base import InMemoryDataModule
from autoencoders.evaluation import Codec, Evaluation, evaluate
from autoencoders.report import build_figures

log = logging.getLogger(__name__)


def evaluate_and_record(
    client: MlflowClient,
    run_id: str,
    codec: Codec,
    datamodule: InMemoryDataModule,
    label: str,
    step: int = 0,
) -> Evaluation:
    """Log the evaluation's metrics (at ``step``), its notes as tags, and every figure."""
    splits = datamodule.splits
    evaluation = evaluate(codec, splits)
    tracking.log_metrics(client, run_id, evaluation.metrics, step=step)
    for key, note in evaluation.notes.items():
        client.set_tag(run_id, key, note)
        log.warning("%s %s", key, note)
    box = getattr(datamodule, "error_map_box", None)
    figures = build_figures(codec, splits, evaluation, datamodule.kind, label, box)
    tracking.log_figures(client, run_id, figures)
    return evaluation
