"""Errors that mean "the configuration is wrong", reported as one line before any run starts."""


class ConfigError(ValueError):
    """A setting has a value the project cannot work with; the message names the setting and the fix."""
