"""The LightningModule: an autoencoder network, its loss, optimizer and per-epoch logging."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from autoencoders.anomaly.rapp import rapp_batch
from autoencoders.anomaly.scores import separation_auroc
from autoencoders.errors import ConfigError
from autoencoders.models.base import Autoencoder
from autoencoders.training.grouped_steps import count_manual_step
from autoencoders.util.params import NON_NEGATIVE, POSITIVE_INT, InvalidParameter, Text, check_params

log = logging.getLogger(__name__)

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


class AutoencoderModule(pl.LightningModule):
    """Trains ``net`` to reconstruct its input: mean squared error plus ``code_l1`` times mean |code|.

    The l1 term is the notebook's sparse-code regulariser; 0 turns it off. Every validation logs
    ``val/loss`` and, where the datamodule gives validation anomalies as a second loader,
    ``val/auroc``, for the checkpoint to monitor.

    ``steps_per_call`` (:meth:`group_steps`, Keras's ``steps_per_execution``): above 1 each training
    step receives a list of batches and takes one plain PyTorch step per batch (zero_grad, backward,
    step, as a hand-written loop does), so that Lightning's per-batch machinery (hooks, closure,
    precision and strategy wrappers) runs once per group: on a network of a few hundred parameters
    it costs more than the step itself. The steps, their order and so the weights are those of one
    batch at a time, and ``trainer.global_step`` still counts every step; the per-step hooks
    (``on_before_backward``, ``on_before_optimizer_step``, ...) do not run inside a group, as
    Keras's batch callbacks do not. Only where no wrapper changes a step and no limit counts
    batches: one device, no gradient scaler, clipping, accumulation or batch limits
    (:func:`autoencoders.training.grouped_steps.group_steps` checks).
    """

    _parameter_constraints = {"name": Text(), "code_dim": POSITIVE_INT, "code_l1": NON_NEGATIVE}

    def __init__(
        self,
        net: Autoencoder,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None,
        *,
        code_l1: float,
        name: str,
        code_dim: int,
        anomaly_score: str,
    ) -> None:
        """``anomaly_score``: the run's ``anomaly.score``; ``val/auroc`` ranks each epoch by the
        reconstruction error where it is ``reconstruction``, else by RaPP (every other score builds
        on the encoder)."""
        super().__init__()
        check_params(self._parameter_constraints, locals())
        if code_dim != net.code_dim:
            raise InvalidParameter("code_dim", f"the network's code size ({net.code_dim})", code_dim)
        width = math.prod(net.input_shape)
        if code_dim >= width:
            log.warning(
                "model.code_dim=%d is as wide as the input (%d values): the network can learn to copy "
                "its input, anomalies included; a code well under the input's width finds them",
                code_dim,
                width,
            )
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.code_l1 = code_l1
        self.name = name
        self._epoch_loss_sum = torch.zeros(())
        self._epoch_samples = 0
        self._val_scores: dict[int, list[torch.Tensor]] = {0: [], 1: []}
        self.epoch_score = "reconstruction" if anomaly_score == "reconstruction" else "rapp"
        self.check_optimizer()

    def group_steps(self, steps_per_call: int) -> None:
        """Train on groups of ``steps_per_call`` batches per call (the datamodule must yield them):
        above 1, by manual optimization."""
        self.automatic_optimization = steps_per_call == 1

    @property
    def code_dim(self) -> int:
        return self.net.code_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.encode(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.net.decode(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def objective(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss and the reconstruction."""
        code = self.net.encode(batch)
        reconstruction = self.net.decode(code)
        loss = F.mse_loss(reconstruction, batch)
        if self.code_l1:
            loss = loss + self.code_l1 * code.abs().mean()
        return loss, reconstruction

    def validation_loss(self, samples: np.ndarray) -> float:
        """The objective over ``samples`` in one pass: ``val/loss`` of the current weights."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            batch = torch.as_tensor(samples, dtype=torch.float32, device=self.device)
            loss = float(self.objective(batch)[0])
        self.train(was_training)
        return loss

    def check_optimizer(self) -> None:
        """Build the optimizer and scheduler once, so that a bad setting fails before a run exists."""
        try:
            self.configure_optimizers()
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model.optimizer / model.scheduler: {str(error).splitlines()[0]}") from error

    def training_step(self, batch: torch.Tensor | list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.automatic_optimization:
            loss = self.objective(batch)[0]
            self._add_to_epoch_loss(loss.detach() * len(batch), len(batch))
            return loss
        optimizer = self.optimizers().optimizer  # torch's own, unwrapped
        losses = []
        for one in batch:  # a group of batches (steps_per_call): one optimizer step each
            loss = self.objective(one)[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            count_manual_step(self.trainer)
            losses.append(loss.detach())
        # One loss per step, for the epoch's mean and for DivergenceGuard, which finds the first
        # step whose loss is not finite (the rest of a diverged group trains on NaN, and fails).
        stacked = torch.stack(losses)
        sizes = torch.tensor([len(one) for one in batch], dtype=stacked.dtype, device=stacked.device)
        self._add_to_epoch_loss(stacked @ sizes, sum(len(one) for one in batch))
        return stacked

    def _add_to_epoch_loss(self, loss_sum: torch.Tensor, n_samples: int) -> None:
        """Add a (detached) sum of per-sample losses to the epoch's. Summed here and logged once per
        epoch: ``self.log`` on every step costs more than a whole optimizer step of a small network."""
        self._epoch_loss_sum = self._epoch_loss_sum.to(loss_sum.device) + loss_sum
        self._epoch_samples += n_samples

    def log_epoch_loss(self) -> None:
        """The epoch's mean training loss, logged once: at the start of its validation, so that the
        checkpoint validation's end saves never holds an epoch whose loss a killed run has not
        logged (a resumed run starts after that epoch); at its end where it has no validation."""
        if self._epoch_samples and not self.trainer.sanity_checking:
            mean = self._epoch_loss_sum / self._epoch_samples
            self.log("train/loss", mean, sync_dist=True, add_dataloader_idx=False)
            self._epoch_loss_sum = torch.zeros(())
            self._epoch_samples = 0

    def on_validation_epoch_start(self) -> None:
        self.log_epoch_loss()

    def on_train_epoch_end(self) -> None:
        self.log_epoch_loss()
        scheduler = None if self.automatic_optimization else self.lr_schedulers()
        if scheduler is not None:  # manual optimization steps its (per-epoch) scheduler itself
            scheduler.step()

    def validation_step(self, batch: torch.Tensor, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Loader 0: normal validation samples (``val/loss``); loader 1, where there is one:
        validation anomalies. Both keep their anomaly scores for ``val/auroc``."""
        loss, reconstruction = self.objective(batch)
        if dataloader_idx == 0:
            self.log(
                "val/loss",
                loss,
                on_step=False,
                on_epoch=True,
                batch_size=len(batch),
                sync_dist=True,
                add_dataloader_idx=False,
            )
        if self.epoch_score == "rapp":  # the run's own score, as its evaluation will use
            scores = rapp_batch(self.net, batch, reconstruction).double()
        else:
            scores = (reconstruction - batch).flatten(1).double().pow(2).sum(1)
        self._val_scores[dataloader_idx].append(scores)

    def on_validation_epoch_end(self) -> None:
        normal, anomalous = (
            self.all_gather(torch.cat(found)).flatten() if found else None
            for found in self._val_scores.values()
        )
        self._val_scores = {0: [], 1: []}
        if normal is None or anomalous is None:
            return
        auroc = separation_auroc(normal.cpu().numpy(), anomalous.cpu().numpy())
        # Not sent to MLflow per epoch: the run's val/auroc is the evaluated model's, logged once.
        self.log("val/auroc", auroc, logger=False, add_dataloader_idx=False)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": self.scheduler_factory(optimizer),
                "interval": "epoch",
                "name": "train/lr",  # LearningRateMonitor's metric name
            },
        }
