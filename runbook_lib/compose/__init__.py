"""Compose files: yamlload -> interpolate -> normalise -> merge -> catalog; discover finds them from labels."""
