"""Training throughput: this project's Lightning loop against a plain PyTorch loop doing the same steps.

Same network, data, batch size, optimizer and thread count; the Lightning side is the project's own
module, datamodule and trainer settings (validation, checkpoints and logging off, so both sides time
optimizer steps only). "time ratio" is Lightning's time over the plain loop's: 1.2 means 20% slower.
Run: ``.venv/bin/python -m benchmarks.throughput [--steps N] [--threads T]``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from autoencoders.data.base import InMemoryDataModule
from autoencoders.models.base import Autoencoder
from autoencoders.training.devices import skip_failing_nvml_checks
from autoencoders.training.module import AutoencoderModule, OptimizerFactory
from pipelines.hydra_glue import build, compose_config


def plain_loop(
    net: Autoencoder,
    data: torch.Tensor,
    batch_size: int,
    steps: int,
    lr: float = 1e-3,
    cosine_epochs: int | None = None,
    steps_per_epoch: int = 1,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> float:
    """Seconds for ``steps`` Adam steps over shuffled slices of ``data``: the reference, a loop as a
    user writes it by hand, on ``data``'s device (``net`` must be there too). ``cosine_epochs``: a
    cosine schedule over that many epochs of ``steps_per_epoch`` steps, stepped after each (the
    spiral's recipe). ``augment``: applied to each batch first, as the run's datamodule does to
    its training batches (MNIST's shifts)."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cosine_epochs) if cosine_epochs else None
    )
    generator = torch.Generator().manual_seed(0)
    done, start = 0, time.perf_counter()
    while done < steps:
        order = torch.randperm(len(data), generator=generator) if batch_size < len(data) else None
        shuffled = data if order is None else data[order]
        for first in range(0, len(data), batch_size):
            batch = shuffled[first : first + batch_size]
            batch = augment(batch) if augment is not None else batch
            loss = F.mse_loss(net(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if schedule is not None and done % steps_per_epoch == 0:
                schedule.step()
            if done == steps:
                break
    finish(data.device)
    return time.perf_counter() - start


def finish(device: torch.device) -> None:
    """Wait for the device's queued work: a CUDA step returns before its kernels have run."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lightning_loop(
    net: Autoencoder,
    datamodule: InMemoryDataModule,
    steps: int,
    optimizer: OptimizerFactory,
    accelerator: str = "cpu",
) -> float:
    """Seconds for ``steps`` steps of the project's LightningModule under a Trainer (``accelerator``
    ``gpu``: one CUDA device, the datamodule's tensors on it), with ``optimizer`` (the model
    config's, built, where the project's settings are timed)."""
    module = AutoencoderModule(
        net,
        optimizer,
        None,
        code_l1=0.0,
        name="benchmark",
        code_dim=net.code_dim,
        anomaly_score="reconstruction",
    )
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        max_steps=steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    skip_failing_nvml_checks()  # as a run's fit does (fit_best): the process a run trains in
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    finish(torch.device("cuda" if accelerator == "gpu" else "cpu"))  # the module is back on the CPU
    return time.perf_counter() - start


def compare(
    model: str, name: str, datamodule: InMemoryDataModule, steps: int, rounds: int
) -> dict[str, float]:
    """One table row: ``model`` (a model config) on ``datamodule``, its network and optimizer as
    configured, against the plain loop."""
    config = compose_config("train", [f"model={model}"]).model
    optimizer = build(config.optimizer)

    def make_net() -> Autoencoder:
        return build(config.net)

    datamodule.prepare_data()
    data = datamodule._tensor("train")
    torch.manual_seed(0)
    plain_loop(make_net(), data, datamodule.batch_size, 20)  # warm-up
    # Alternate the two sides and keep each one's best of ``rounds``: the machine's background noise
    # then hits both alike.
    plain, lightning = float("inf"), float("inf")
    for _ in range(rounds):
        plain = min(plain, plain_loop(make_net(), data, datamodule.batch_size, steps))
        lightning = min(lightning, lightning_loop(make_net(), datamodule, steps, optimizer))
    batches = [
        len(data[first : first + datamodule.batch_size])
        for first in range(0, len(data), datamodule.batch_size)
    ]
    samples = sum(batches[step % len(batches)] for step in range(steps))
    row = {"plain": samples / plain, "lightning": samples / lightning}
    print(
        f"| {name} | {min(datamodule.batch_size, len(data))} | {steps} | {row['plain']:,.0f} | "
        f"{row['lightning']:,.0f} | {lightning / plain:.2f} |"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps for the conv model")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=2, help="alternating timings per side; best kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    print(f"torch {torch.__version__}, {args.threads} threads")
    print("| model, data | batch | steps | plain PyTorch (samples/s) | Lightning (samples/s) | time ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    compare(
        "conv",
        "conv (32, 64), code 16, MNIST digit 0",
        build(compose_config("train", ["dataset=mnist", "dataset.source=bundled"]).dataset),
        args.steps,
        args.rounds,
    )
    compare(
        "dense",
        "dense 2-10-10-1, spiral (full batch)",
        build(compose_config("train").dataset),
        20 * args.steps,
        args.rounds,
    )


if __name__ == "__main__":
    main()
