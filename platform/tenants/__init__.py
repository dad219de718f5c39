"""Tenant core: the registry, host resolution, provisioning and rollout."""
