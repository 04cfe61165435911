"""Compose files: load, interpolate, merge, catalog."""
