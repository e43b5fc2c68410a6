"""Pipelines: DAGs of notebook and command steps passing data assets, run by the agent, with
step reuse by content key (see :mod:`mlbench.pipelines.keys`)."""

from mlbench.pipelines.spec import Pipeline

__all__ = ["Pipeline"]
