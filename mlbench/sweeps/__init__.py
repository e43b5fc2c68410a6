"""Sweeps: hyperparameter search over a notebook's parameters, with early termination.

A sweep's trials are ordinary jobs (a ``JobSpec`` with the sweep as parent) on any compute
target; the target's agent drives the sweep from the database (:mod:`.driver`).
"""
