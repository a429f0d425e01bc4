"""Thin Hydra entry points: compose the config, call the library, exit."""
