"""What a user would write by hand for a one-class table: the benchmarks' peer of ``dataset=table``.

``python benchmarks/plain_table.py table.parquet [--epochs 1]``: read the Parquet file with pandas, one-hot
the text columns, fill the amount's gaps with the training median, min-max scale on the training rows,
split the normal rows 65/15/20 (the anomalies half to validation, half to test), train the dense
autoencoder the pipeline would build for the table (widths [2 x features, features], a code of about
sqrt(features), a sigmoid output, Adam at 0.003, batches of 256, a cosine schedule), and print the
test AUROC of the reconstruction error. Plain pandas, numpy, torch and scikit-learn; no tracking.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

LABEL = "is_fraud"
LEFT_OUT = ("id", "timestamp")


def dense(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for inputs, outputs in zip(widths, widths[1:], strict=False):
        layers += [nn.Linear(inputs, outputs), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu", help="cuda: the network and the training rows on the GPU")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    frame = pd.read_parquet(args.path)
    label = frame.pop(LABEL).to_numpy() == 1
    frame = pd.get_dummies(frame.drop(columns=list(LEFT_OUT)), dtype=np.float32)
    rng = np.random.default_rng(0)
    normal, anomalies = rng.permutation(np.flatnonzero(~label)), rng.permutation(np.flatnonzero(label))
    n_val, n_test = round(0.15 * len(normal)), round(0.2 * len(normal))
    train, val, test_normal = normal[n_val + n_test :], normal[:n_val], normal[n_val : n_val + n_test]
    test = np.r_[test_normal, anomalies[len(anomalies) // 2 :]]
    frame = frame.fillna(frame.iloc[train].median())
    low, high = frame.iloc[train].min(), frame.iloc[train].max()
    values = ((frame - low) / (high - low).replace(0, 1)).to_numpy(np.float32)
    features = values.shape[1]
    code = max(1, min(features - 1, round(math.sqrt(features))))
    widths = [features, min(256, 2 * features), min(128, features), code]
    model = nn.Sequential(dense(widths), dense(widths[::-1]), nn.Sigmoid()).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    x = torch.from_numpy(values[train]).to(args.device)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(x), device=args.device).split(256):
            loss = nn.functional.mse_loss(model(x[batch]), x[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    with torch.no_grad():
        rows = torch.from_numpy(values[test])
        errors = ((model(rows) - rows) ** 2).sum(1).numpy()
        val_loss = float(
            nn.functional.mse_loss(model(torch.from_numpy(values[val])), torch.from_numpy(values[val]))
        )
    print(f"val/loss {val_loss:.6f}  test/auroc {roc_auc_score(label[test], errors):.4f}")


if __name__ == "__main__":
    main()
