"""Score a file with a trained detector: ``python -m pipelines.score model=<uri> input=<in> output=<out>``."""

from __future__ import annotations

import os
import time
from pathlib import Path

from autoencoders.util.startup import libraries_loading

with libraries_loading():
    import hydra
    from omegaconf import DictConfig

    from autoencoders.errors import ConfigError
    from pipelines.common import PROJECT_ROOT, one_line_errors
    from pipelines.schema import check

SCORE_CONFIG_DIR = str(PROJECT_ROOT / "pipelines" / "score_conf")


def score(cfg: DictConfig) -> int:
    """Load the detector (nothing unpickled), score the input in batches, write the output whole.
    Returns the number of rows scored."""
    with libraries_loading():
        import mlflow.pyfunc
        from mlflow.exceptions import MlflowException

        from autoencoders.deploy.batch import check_output, read_input, score_batches, write_atomically
        from autoencoders.tracking.runs import fluent_store
        from autoencoders.tracking.store import prepare_store

    check(cfg, "score")
    output = Path(cfg.output)
    check_output(output)
    data = read_input(Path(cfg.input))
    prepare_store(cfg.tracking.uri)
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    try:
        with fluent_store(cfg.tracking.uri):
            model = mlflow.pyfunc.load_model(cfg.model)
    except (MlflowException, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"model={cfg.model}: no such model ({first[:200]})") from None
    started = time.perf_counter()
    scored = score_batches(model, data, int(cfg.batch_size), list(cfg.keep))
    write_atomically(scored, output)
    seconds = time.perf_counter() - started
    flagged = int(scored["is_anomaly"].sum())
    print(
        f"scored {len(scored)} rows in {seconds:.2f} s ({len(scored) / seconds:,.0f} rows/s): "
        f"{flagged} anomalous; wrote {output}"
    )
    return len(scored)


@hydra.main(version_base="1.3", config_path=SCORE_CONFIG_DIR, config_name="score")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        score(cfg)


if __name__ == "__main__":
    main()
