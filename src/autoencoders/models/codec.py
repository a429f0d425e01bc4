"""numpy in, numpy out over a torch autoencoder: what the evaluation, the anomaly scores and the
deployed detector call, batched, in eval mode, without gradients."""

from __future__ import annotations

import numpy as np
import torch

#: Input values per batch (16 MB of float32): a 2-D point goes 65,536 to a batch, an MNIST digit
#: 5,350. Why: a batch's every layer call costs Python and torch overhead, which at 4,096 tiny rows
#: per batch was a third of scoring the spiral's 200,000 points.
BATCH_VALUES = 2**22


def batch_rows(x: np.ndarray, batch_size: int | None = None) -> int:
    """Samples per batch for ``x``: ``batch_size`` where set, else :data:`BATCH_VALUES` worth,
    between 256 and 65,536."""
    if batch_size:
        return batch_size
    per_sample = max(1, int(np.prod(x.shape[1:])))
    return max(256, min(65_536, BATCH_VALUES // per_sample))


class TorchCodec:
    """numpy adapter over a torch module with ``encode``/``decode``: eval mode, no grad, batched
    (``batch_size`` samples; None: :func:`batch_rows`)."""

    def __init__(self, module: torch.nn.Module, batch_size: int | None = None) -> None:
        self.module = module
        self.batch_size = batch_size

    def _apply(self, method_name: str, array: np.ndarray) -> np.ndarray:
        was_training = self.module.training
        self.module.eval()
        device = next(self.module.parameters()).device
        method = getattr(self.module, method_name)
        outputs = []
        rows = batch_rows(array, self.batch_size)
        with torch.no_grad():
            for start in range(0, len(array), rows):
                chunk = torch.as_tensor(array[start : start + rows], dtype=torch.float32)
                outputs.append(method(chunk.to(device)).float().cpu().numpy())
        self.module.train(was_training)
        return np.concatenate(outputs) if outputs else np.empty((0,))

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self._apply("encode", x)

    def decode(self, code: np.ndarray) -> np.ndarray:
        return self._apply("decode", code)
