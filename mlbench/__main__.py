"""``python -m mlbench`` is the ``mlbench`` command."""

from mlbench.cli import main

main()
