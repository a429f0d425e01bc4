"""The LightningModule: an autoencoder network, its loss, optimizer and per-epoch logging."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from autoencoders.errors import ConfigError
from autoencoders.models.base import Autoencoder

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


class AutoencoderModule(pl.LightningModule):
    """Trains ``net`` to reconstruct its input: mean squared error plus ``code_l1`` times mean |code|.

    The l1 term is the notebook's sparse-code regulariser; 0 turns it off.
    """

    def __init__(
        self,
        net: Autoencoder,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        code_l1: float = 0.0,
        name: str = "autoencoder",
        code_dim: int | None = None,
    ) -> None:
        super().__init__()
        if code_dim is not None and code_dim != net.code_dim:
            raise ConfigError(f"model.code_dim is {code_dim} but the network's code has {net.code_dim}")
        if code_l1 < 0:
            raise ConfigError(f"model.code_l1 must be 0 or more, got {code_l1}")
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.code_l1 = code_l1
        self.name = name
        self._epoch_loss_sum = torch.zeros(())
        self._epoch_samples = 0

    @property
    def code_dim(self) -> int:
        return self.net.code_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.encode(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.net.decode(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def objective(self, batch: torch.Tensor) -> torch.Tensor:
        code = self.net.encode(batch)
        loss = F.mse_loss(self.net.decode(code), batch)
        if self.code_l1:
            loss = loss + self.code_l1 * code.abs().mean()
        return loss

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.objective(batch)
        # Summed here and logged once per epoch: ``self.log`` on every step costs more than a
        # whole optimizer step of a small network.
        self._epoch_loss_sum = self._epoch_loss_sum.to(loss.device) + loss.detach() * len(batch)
        self._epoch_samples += len(batch)
        return loss

    def on_train_epoch_end(self) -> None:
        if self._epoch_samples:
            mean = self._epoch_loss_sum / self._epoch_samples
            self.log("train/loss", mean, sync_dist=True)
        self._epoch_loss_sum = torch.zeros(())
        self._epoch_samples = 0

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        loss = self.objective(batch)
        self.log("val/loss", loss, on_step=False, on_epoch=True, batch_size=len(batch), sync_dist=True)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "epoch"},
        }
