"""Helpers the tests share (fixtures stay in ``conftest.py``): short-run settings, reading a run's
artifacts, runs written straight into a store, and entry points run in-process or as a command."""
