"""Scoring a CSV as a user would write it by hand: the yardstick for ``python -m pipelines.score``.

Reads the spiral's points with pandas, passes them through the notebook's network (weights saved
from a pipeline run as a plain ``state_dict``), and writes each row's squared reconstruction error
beside it. No input checks, no preprocessing, no MLflow: what the pipeline adds is what it costs
over this. Run: ``.venv/bin/python benchmarks/plain_score.py WEIGHTS.pt INPUT.csv OUTPUT.csv``.
"""

from __future__ import annotations

import sys

import pandas as pd
import torch
from torch import nn


def main() -> None:
    weights, source, target = sys.argv[1:4]
    torch.set_num_threads(1)
    model = nn.Module()
    model.encoder = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))
    model.decoder = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
    model.load_state_dict(torch.load(weights, weights_only=True))
    frame = pd.read_csv(source)
    x = torch.as_tensor(frame[["x0", "x1"]].to_numpy(), dtype=torch.float32)
    with torch.no_grad():
        frame["score"] = ((model.decoder(model.encoder(x)) - x) ** 2).sum(1).numpy()
    frame.to_csv(target, index=False)


if __name__ == "__main__":
    main()
