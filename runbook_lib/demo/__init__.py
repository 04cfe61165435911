"""The demo stack."""
