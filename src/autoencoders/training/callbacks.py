"""Lightning callbacks of this project."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, TQDMProgressBar
from torchvision.utils import make_grid

from autoencoders.errors import TrainingDiverged
from autoencoders.training.grouped_steps import running_loss, set_refresh_rate

log = logging.getLogger(__name__)


class EpochSummary(Callback):
    """One log line every ``every_n_epochs`` epochs (default: ten lines per run) with the epoch's
    losses: readable in a terminal and in CI logs, and free of a progress bar's per-step cost."""

    def __init__(self, every_n_epochs: int | None = None) -> None:
        self.every_n_epochs = every_n_epochs

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch + 1
        stride = trainer.check_val_every_n_epoch or 1  # lines fall on validated epochs only
        every = self.every_n_epochs or stride * max(1, (trainer.max_epochs or 10) // 10 // stride)
        if epoch % every and epoch != trainer.max_epochs:
            return
        losses = "  ".join(
            f"{name} {float(value):.6g}"
            for name, value in trainer.callback_metrics.items()
            if name.endswith("loss")
        )
        log.info("epoch %d/%s  %s", epoch, trainer.max_epochs, losses)


class DivergenceGuard(Callback):
    """Stops training at the first step whose loss is not finite (NaN or infinite), rather than
    training every remaining epoch on NaN and failing later in the evaluation; the message suggests
    the usual fixes with the run's own numbers."""

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        losses = loss.reshape(-1)  # one per optimizer step of the call (several with steps_per_call)
        finite = torch.isfinite(losses)
        if not finite.all():
            first = int((~finite).nonzero()[0])
            step = trainer.global_step - len(losses) + first + 1
            raise TrainingDiverged(
                f"training diverged: the training loss became {float(losses[first])} at epoch "
                f"{trainer.current_epoch + 1}, step {step}; {self.hint(trainer)}"
            )

    @staticmethod
    def hint(trainer: pl.Trainer) -> str:
        group = trainer.optimizers[0].param_groups[0]
        hint = f"lower model.optimizer.lr (now {group.get('initial_lr', group['lr']):g})"
        splits = getattr(trainer.datamodule, "splits", None)
        if splits is not None:
            hint += f" or scale the inputs (largest |x| in training: {float(np.abs(splits.train).max()):g})"
        return hint


class ReconstructionSnapshots(Callback):
    """Logs a grid of fixed images over their reconstructions after every validation epoch, as an
    MLflow image with the epoch (from 1, the curves' step) as its step, so the UI shows how
    training progresses."""

    def __init__(self, images: np.ndarray, key: str = "reconstructions", scale: int = 3) -> None:
        self.images = torch.as_tensor(images, dtype=torch.float32)
        self.key = key
        self.scale = scale  # 28-pixel digits are too small to judge in the UI

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or trainer.logger is None:
            return
        if trainer.current_epoch + 1 <= getattr(trainer.logger, "logged_steps", {}).get("val/loss", 0):
            return  # a resumed run holds this epoch's image already (logged with its val/loss)
        with torch.no_grad():
            reconstructions = pl_module(self.images.to(pl_module.device)).float().cpu()
        # Rows of eight: originals, then their reconstructions below; normal first, then anomalous.
        rows = []
        for start in range(0, len(self.images), 8):
            rows += [self.images[start : start + 8], reconstructions[start : start + 8]]
        grid = make_grid(torch.cat(rows).clamp(0, 1), nrow=8, padding=2, pad_value=1.0)
        grid = torch.nn.functional.interpolate(grid[None], scale_factor=self.scale, mode="nearest")[0]
        grid = (grid.permute(1, 2, 0) * 255).to(torch.uint8).numpy()
        trainer.logger.experiment.log_image(
            trainer.logger.run_id,
            grid,
            key=self.key,
            step=trainer.current_epoch + 1,  # as the curves
        )


class TrainingBar(TQDMProgressBar):
    """Lightning's progress bar (epoch, calls, speed) with the epoch's running training loss and the
    optimizer steps so far, redrawn about ``redraws_per_epoch`` times an epoch. The loss is read
    from the module's running sum when the bar redraws, not logged each step: ``self.log`` per step
    would cost more than a small network's step."""

    def __init__(self, redraws_per_epoch: int = 10) -> None:
        super().__init__()
        self.redraws_per_epoch = redraws_per_epoch

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Known only now: the batches an epoch has (groups of them, with steps_per_call).
        set_refresh_rate(self, max(1, int(trainer.num_training_batches) // self.redraws_per_epoch))
        super().on_train_start(trainer, pl_module)

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        loss = running_loss(pl_module)
        if loss is not None:
            items["loss"] = f"{loss:.4g}"
        items["step"] = trainer.global_step  # optimizer steps: the bar counts calls (steps_per_call)
        return items
