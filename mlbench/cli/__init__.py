"""The ``mlbench`` command line."""

from mlbench.cli.main import main

__all__ = ["main"]
