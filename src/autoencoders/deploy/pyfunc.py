"""The MLflow pyfunc model of a detector, logged with MLflow's models-from-code: loading it runs
this file (the package travels with the model) and reads plain files; nothing is unpickled."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import set_model

from autoencoders.deploy.detector import DeployedDetector, load_detector


class DetectorModel(mlflow.pyfunc.PythonModel):
    """``predict``: a DataFrame of raw samples (or an N x C x H x W array of images) in, one row
    of ``score``, ``is_anomaly``, codes and per-feature errors out per input row."""

    detector: DeployedDetector

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.detector = load_detector(context.artifacts)

    # A DataFrame hint is one MLflow infers no schema from (the logged signature, with named
    # columns, is the schema); arrays of images pass through as they are.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """A DataFrame of raw samples (or an N x C x H x W array) in, a DataFrame of scores out."""
        return self.detector.predict(model_input)


set_model(DetectorModel())
