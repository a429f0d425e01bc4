"""The registry: every class a config names is a registry entry, entries resolve lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from autoencoders.anomaly.detector import AnomalyDetector
from autoencoders.errors import InputError
from autoencoders.registry import DATASETS, DETECTORS, MODELS, NETWORKS, Registry
from pipelines.hydra_glue import CONFIG_DIR, PROJECT_ROOT

CONF = Path(CONFIG_DIR)


def targets(group: str, key: str | None = None) -> list[tuple[str, str]]:
    """(file name, ``_target_``) of every yaml in ``conf/<group>`` (of its ``key`` node if given);
    an option that extends another (``kdd_tsad_135`` is ``series`` with aeon's files) has its own."""
    found = []
    for path in sorted((CONF / group).glob("*.yaml")):
        node = OmegaConf.load(path)
        node = node.get(key) if key else node
        if "_target_" in node or not node.get("defaults"):
            found.append((path.name, node["_target_"]))
    return found


@pytest.mark.parametrize(
    ("group", "key", "registry"),
    [
        ("dataset", None, DATASETS),
        ("model", None, MODELS),
        ("model", "net", NETWORKS),
        ("method", None, DETECTORS),
    ],
)
def test_every_config_target_is_a_registry_entry(group: str, key: str | None, registry: Registry) -> None:
    found = targets(group, key)
    assert found, group
    for name, target in found:
        assert target in registry.paths.values(), f"conf/{group}/{name}: {target} is not registered"
        (entry,) = [entry for entry, path in registry.paths.items() if path == target]
        cls = registry[entry]  # it resolves to the class the config builds
        assert f"{cls.__module__}.{cls.__qualname__}" == target
        assert registry.name_of(cls) == entry


def test_every_detector_follows_the_contract_and_names_its_entry() -> None:
    for name in DETECTORS:
        cls = DETECTORS[name]
        assert issubclass(cls, AnomalyDetector) and cls.name == name
        for method in ("fit", "decision_function", "save", "load"):
            assert getattr(cls, method) is not getattr(AnomalyDetector, method), (name, method)
    assert {path.stem for path in (CONF / "method").glob("*.yaml")} == set(DETECTORS) - {"autoencoder"}


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        InputError, match=r"unknown detector 'svm': known are \['autoencoder', 'ecod', 'iforest'"
    ):
        DETECTORS["svm"]


def test_importing_the_registry_imports_no_entry() -> None:
    probe = "import sys, autoencoders.registry; print(sorted({'torch', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{PROJECT_ROOT / 'src'}"},
    )
    assert out.stdout.strip() == "[]"
