"""The detector the REST tests score with, made and served by one background process, so that the
test session's start does not wait for it: ``python -m helpers.served <folder> <port> <max_rows>``
logs a PCA baseline (seconds: nothing trains) on a table as users' files come (an id, a timestamp, a
category, gaps) into a store in ``folder``, writes what it logged to ``folder/served.json``, then
serves that detector with ``pipelines.serve`` in the same process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from helpers.entry import store_overrides
from helpers.tables import transactions

RECORD = "served.json"


def log_a_detector(folder: Path) -> dict[str, str]:
    """The PCA baseline's run in a store of its own: the store, the model URI and the table."""
    from mlflow.tracking import MlflowClient

    from pipelines.hydra_glue import compose_config
    from pipelines.pca_baseline import pca_baseline

    store = {"uri": f"sqlite:///{folder / 'mlflow.db'}", "artifact_root": str(folder / "artifacts")}
    data = folder / "transactions.csv"
    transactions(rows=300, gaps=6).to_csv(data, index=False)
    table = ["dataset=table", f"dataset.path={data}", "dataset.label=is_fraud"]
    pca_baseline(compose_config("pca_baseline", [*store_overrides(store), *table]))
    client = MlflowClient(store["uri"])
    (run,) = client.search_runs([client.get_experiment_by_name("transactions").experiment_id])
    return {**store, "model_uri": f"runs:/{run.info.run_id}/anomaly_detector", "data": str(data)}


def main() -> None:
    folder, port, max_rows = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    served = log_a_detector(folder)
    written = folder / f"{RECORD}.part"
    written.write_text(json.dumps(served))
    written.rename(folder / RECORD)  # whole or not at all: the tests read it once the server answers
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    settings = [f"model_uri={served['model_uri']}", f"port={port}", f"max_rows={max_rows}"]
    sys.argv = [
        "pipelines/serve.py",
        *settings,
        f"tracking.uri={served['uri']}",
        f"hydra.run.dir={folder / 'serve'}",
    ]
    from pipelines import serve

    serve.main()


if __name__ == "__main__":
    main()
