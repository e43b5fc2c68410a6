"""Environments: named, versioned Python environments (``name:version``) that jobs run in.

A spec (requirements, a conda-style YAML's ``pip:`` section, or a pyproject's dependencies) is
resolved to a lock with uv, hashed, built once into a venv with ipykernel and registered as a
kernelspec of mlbench's own (``mlbench-<name>-<hash8>``); a job with ``environment=`` runs on
that kernel. See ``docs/environments.md``.
"""
