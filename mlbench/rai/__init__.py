"""Responsible AI reports of models on test tables; see :mod:`mlbench.rai.service`."""
