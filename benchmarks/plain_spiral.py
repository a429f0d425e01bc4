"""The spiral training as a user would write it by hand: the yardstick for ``python -m pipelines.train``.

The notebook's 2-10-10-1 / 1-10-10-2 network on its 100 spiral points, Adam 3e-3 with a cosine
schedule over 200 epochs of 20 full-batch steps (4,000 steps, as the pipeline's defaults), then the
training RMSE. No tracking, no figures, no checkpoints: what the pipeline adds is what it costs over this.
Run: ``.venv/bin/python benchmarks/plain_spiral.py [--threads N]``. ``--with-pipeline-imports``
first imports what ``python -m pipelines.train`` imports, as it does: the least the pipeline's
end-to-end time can be while it uses those libraries.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn


def spiral(n: int, seed: int) -> torch.Tensor:
    t = np.random.default_rng(seed).uniform(0, 1, n)
    points = np.column_stack([(t + 1) * np.cos(5 * t + 1.5), (t + 1) * np.sin(5 * t + 1.5)])
    return torch.as_tensor(points, dtype=torch.float32)


def import_the_pipeline() -> None:
    """The modules a spiral run loads (Lightning, MLflow, Hydra, matplotlib, scikit-learn), loaded
    the pipeline's way (:mod:`autoencoders.util.startup`), and Lightning's NVML check undone as it does."""
    from autoencoders.util.startup import libraries_loading

    with libraries_loading():
        import autoencoders.stages  # noqa: F401
        import autoencoders.training.fit  # noqa: F401
        import pipelines.train  # noqa: F401
        from autoencoders.training.devices import skip_failing_nvml_checks
    skip_failing_nvml_checks()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--steps-per-epoch", type=int, default=20)
    parser.add_argument(
        "--seed", type=int, default=0, help="the network's initialisation (the pipeline's seed)"
    )
    parser.add_argument(
        "--with-pipeline-imports", action="store_true", help="import the pipeline's libraries first"
    )
    args = parser.parse_args()
    if args.with_pipeline_imports:
        import_the_pipeline()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x = spiral(100, seed=0)
    encoder = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))
    decoder = nn.Sequential(nn.Linear(1, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
    model = nn.Sequential(encoder, decoder)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    for _ in range(args.epochs):
        for _ in range(args.steps_per_epoch):
            loss = nn.functional.mse_loss(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    with torch.no_grad():
        rmse = float(((model(x) - x) ** 2).sum(1).mean().sqrt())
    print(f"train/rmse {rmse:.5f}")


if __name__ == "__main__":
    main()
