"""What a command prints: the project's own lines, not the libraries' banners, tips and
deprecation notices, which repeat on every run and hide what the run measured."""

from __future__ import annotations

import logging
import os
import warnings

#: Lines Lightning prints on every fit: the device banner, an advertisement, the stop reason.
LIGHTNING_NOISE = ("GPU available:", "TPU available:", "HPU available:", "💡 Tip:", "`Trainer.fit` stopped:")
LIGHTNING_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")


class _DropLines(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def quiet_libraries() -> None:
    """Drop Lightning's per-run banner lines, deprecation warnings raised inside the libraries (not
    this project's to fix), MLflow's "creating database tables" lines and its download progress bars."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _DropLines) for existing in logger.filters):
            logger.addFilter(_DropLines(LIGHTNING_NOISE))
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # A resumed run puts its best checkpoint back in the folder before fit: expected, not a problem.
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    for module in ("pytorch_lightning", "lightning_fabric", "torch", "mlflow", "starlette", "hydra"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("mlflow.pyfunc").setLevel(logging.WARNING)  # "Validating input example ..."
    logging.getLogger("mlflow.models.model").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
