"""Models: MLflow's model registry in the workspace, with the lineage of the jobs they came from."""
