"""Native health probes: specs derived from a gathered stack, one module per kind, rows out."""
