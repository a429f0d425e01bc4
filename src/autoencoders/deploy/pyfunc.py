"""The MLflow pyfunc model of a detector, logged with MLflow's models-from-code: loading it runs
this file (the package travels with the model) and reads plain files; nothing is unpickled."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import set_model
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from autoencoders.deploy.detector import DeployedDetector, load_detector
from autoencoders.errors import InputError


class DetectorModel(mlflow.pyfunc.PythonModel):
    """``predict``: a DataFrame of raw samples (or an N x C x H x W array of images) in, one row
    of ``score``, ``is_anomaly``, codes and per-feature errors out per input row."""

    detector: DeployedDetector

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.detector = load_detector(context.artifacts)

    # A DataFrame hint is one MLflow infers no schema from (the logged signature, with named
    # columns, is the schema); arrays of images pass through as they are.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """A DataFrame of raw samples (or an N x C x H x W array) in, a DataFrame of scores out.
        Bad input is MLflow's own error (``INVALID_PARAMETER_VALUE``: a 400 over REST, with the
        CLI's one line as its message and no stack trace), not an internal error with a traceback."""
        try:
            return self.detector.predict(model_input)
        except InputError as error:
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None


set_model(DetectorModel())
