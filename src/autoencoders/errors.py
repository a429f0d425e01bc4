"""The errors a command reports in one line, without a traceback."""


class ConfigError(ValueError):
    """A setting has a value the project cannot work with; the message names the setting and the fix.
    Raised before any run starts; the command exits with status 2."""


class TrainingDiverged(RuntimeError):
    """The training loss stopped being finite; the run ends FAILED and the command exits with
    status 1, its message saying what to change."""


class InputError(ValueError):
    """Data given to a trained detector does not fit it (columns, values); the message names the
    row or column. The scoring command reports it in one line and exits with status 2."""


class TrackingServerGone(RuntimeError):
    """The tracking server stopped answering while a run recorded into it (after MLflow's own retries).
    The run cannot be ended there, so it stays RUNNING; a training keeps its last checkpoint on this
    machine, for ``resume`` once the server is back. Reported in one line, exit status 1."""
