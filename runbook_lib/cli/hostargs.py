"""Which named engines a command runs on (`--host NAME=URL`, RUNBOOK_HOSTS, ``hosts:`` in runbook.yaml).

Apart from `cli/hosts.py` so that a one-engine command (`runbook probe`) can ask without
importing the multi-host machinery (the diagnosis, Swarm and multi-stack layers).
"""
from __future__ import annotations

from runbook_lib.config import load_config
from runbook_lib.engine.hosts import HostSpec, resolve_hosts


def named_hosts(args) -> list[HostSpec]:
    """--host entries, else RUNBOOK_HOSTS, else ``hosts:`` in runbook.yaml; [] (one engine) with --engine-url."""
    cli = list(getattr(args, "host", None) or [])
    if not cli and getattr(args, "engine_url", None):
        return []
    return resolve_hosts(cli, load_config(getattr(args, "config", None)))
