"""The job agent: one long-lived process per compute target (see :mod:`mlbench.agent.agent`)."""
