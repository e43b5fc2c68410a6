"""jupyter-server extension: the REST face of mlbench (thin handlers over the core)."""
