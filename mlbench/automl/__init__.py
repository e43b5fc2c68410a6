"""AutoML on table data assets (FLAML), run as command jobs; see :mod:`mlbench.automl.service`."""
