"""``compare`` on stores as users' stores are: runs of any configuration and status, names with any
characters, missing metrics and tags. Property-based (Hypothesis): whatever mix of runs a store
holds, the comparison prints its table (or says there is nothing to compare), never a traceback."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient

from autoencoders.errors import ConfigError
from helpers.entry import store_overrides
from helpers.runs import write_run
from pipelines.compare import compare
from pipelines.hydra_glue import compose_config

ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)
TAGS = ("stage", "dataset", "model", "code_dim")
RUNS = st.lists(
    st.fixed_dictionaries(
        {
            "stage": st.sampled_from(["train", "baseline", "compare", "sweep", None]),
            "dataset": st.one_of(st.sampled_from(["spiral", "mnist", "transactions"]), ODD_TEXT, st.none()),
            "model": st.one_of(st.sampled_from(["dense", "conv", "pca", "knn"]), ODD_TEXT, st.none()),
            "code_dim": st.one_of(st.sampled_from(["1", "2", "16"]), ODD_TEXT, st.none()),
            "status": st.sampled_from(["FINISHED", "FAILED", "KILLED", "RUNNING"]),
            "params": st.dictionaries(
                st.sampled_from(["seed", "model.optimizer.lr", "dataset.normal_digits", "model.code_dim"]),
                ODD_TEXT,
                max_size=3,
            ),
            "metrics": st.dictionaries(
                st.sampled_from(["train/rmse", "test/auroc", "test/aupr"]),
                st.floats(allow_nan=True, allow_infinity=True, width=32),
                max_size=3,
            ),
            "experiment": st.sampled_from(["spiral", "my runs #2 / ünïcode"]),
        }
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(RUNS)
def test_compare_prints_a_table_or_says_why_not_on_any_mix_of_runs(
    template_db: Path, runs: list[dict]
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="compare-store-"))
    try:
        shutil.copy(template_db, folder / "mlflow.db")
        store = {"uri": f"sqlite:///{folder / 'mlflow.db'}", "artifact_root": str(folder / "artifacts")}
        client = MlflowClient(store["uri"])
        for run in runs:
            tags = {
                key: run[key] for key in ("stage", "dataset", "model", "code_dim") if run[key] is not None
            }
            write_run(client, run["experiment"], tags, run["params"], run["metrics"], run["status"])
        try:
            text = compare(compose_config("compare", store_overrides(store)))
        except ConfigError as error:  # nothing comparable: one line, as the entry point prints it
            assert "\n" not in str(error)
        else:
            assert text.startswith("|")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
