"""Native health probes: specs, the runner, derivation, kinds."""
