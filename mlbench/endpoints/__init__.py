"""Online endpoints: a stable URL with keys, a router, and deployments of registered models."""
