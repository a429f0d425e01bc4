"""numpy in, numpy out over a torch autoencoder: what the evaluation, the anomaly scores and the
deployed detector call, batched, in eval mode, without gradients."""

from __future__ import annotations

import numpy as np
import torch


class TorchCodec:
    """numpy adapter over a torch module with ``encode``/``decode``: eval mode, no grad, batched."""

    def __init__(self, module: torch.nn.Module, batch_size: int = 4096) -> None:
        self.module = module
        self.batch_size = batch_size

    def _apply(self, method_name: str, array: np.ndarray) -> np.ndarray:
        was_training = self.module.training
        self.module.eval()
        device = next(self.module.parameters()).device
        method = getattr(self.module, method_name)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(array), self.batch_size):
                chunk = torch.as_tensor(array[start : start + self.batch_size], dtype=torch.float32)
                outputs.append(method(chunk.to(device)).float().cpu().numpy())
        self.module.train(was_training)
        return np.concatenate(outputs) if outputs else np.empty((0,))

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self._apply("encode", x)

    def decode(self, code: np.ndarray) -> np.ndarray:
        return self._apply("decode", code)
