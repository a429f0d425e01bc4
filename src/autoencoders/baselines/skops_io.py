"""scikit-learn detectors saved with skops (no pickle): what a detector fitted, dumped as a dict of
estimators, loaded trusting exactly the types the detector's class allows."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from autoencoders.anomaly.detector import AnomalyDetector
from autoencoders.errors import InputError

ESTIMATORS_FILE = "estimators.skops"


class SklearnDetector(AnomalyDetector):
    """A detector whose fitted state is scikit-learn estimators (its attributes ending in ``_``)."""

    #: The types beyond skops' defaults that this detector's estimators hold: what loading trusts.
    trusted_types: ClassVar[tuple[str, ...]] = ()

    def fitted(self) -> dict[str, Any]:
        """The fitted attributes (scikit-learn's trailing underscore), less the threshold."""
        found = {key: value for key, value in vars(self).items() if key.endswith("_") and key != "threshold_"}
        if not found:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return found

    def save(self, folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
        import skops.io

        data = skops.io.dumps(self.fitted())
        unexpected = sorted(set(skops.io.get_untrusted_types(data=data)) - set(self.trusted_types))
        if unexpected:  # it could not be loaded again: the allow-list needs them, reviewed
            raise RuntimeError(f"{type(self).__name__}.trusted_types lacks {unexpected}")
        path = folder / ESTIMATORS_FILE
        path.write_bytes(data)
        return {"params": self.get_params()}, {"estimators": str(path)}

    @classmethod
    def load(cls, state: Mapping[str, Any], files: Mapping[str, str]) -> SklearnDetector:
        import skops.io

        path = files["estimators"]
        found = skops.io.get_untrusted_types(file=path)
        refused = sorted(set(found) - set(cls.trusted_types))
        if refused:
            raise InputError(
                f"{path} holds types a {cls.name} detector does not use: {', '.join(refused)}; not loaded"
            )
        detector = cls(**state["params"])
        vars(detector).update(skops.io.load(path, trusted=found))
        return detector
