"""Hand-built Catalog-like and inventory-like frames for the expected/plan/actions tests."""
from __future__ import annotations

import pandas as pd

CATALOG_COLUMNS = ["service", "file", "container_name", "image", "build", "tier", "profiles", "depends_on",
                   "healthcheck", "has_healthcheck", "ports", "environment", "command", "restart", "volumes",
                   "networks", "labels"]


def hc(interval_s: float = 1.0, retries: int = 3, start_period_s: float = 0.0, timeout_s: float = 1.0,
       test=("CMD-SHELL", "true")) -> dict:
    return {"test": list(test), "interval_s": interval_s, "timeout_s": timeout_s, "retries": retries,
            "start_period_s": start_period_s}


def dep(service: str, condition: str = "service_started", required: bool = True, restart: bool = False) -> dict:
    return {"service": service, "condition": condition, "required": required, "restart": restart}


def catalog(services: dict[str, dict]) -> pd.DataFrame:
    """services: name -> partial spec (depends_on may be names or dep() dicts)."""
    rows = []
    for name, spec in services.items():
        deps = [d if isinstance(d, dict) else dep(d) for d in spec.get("depends_on", [])]
        h = spec.get("healthcheck")
        rows.append({
            "service": name, "file": spec.get("file", "docker-compose.yml"),
            "container_name": spec.get("container_name"), "image": spec.get("image", f"{name}:1"),
            "build": spec.get("build", False), "tier": spec.get("tier", "application"),
            "profiles": spec.get("profiles", []), "depends_on": deps, "healthcheck": h,
            "has_healthcheck": bool(h), "ports": spec.get("ports", []), "environment": {},
            "command": None, "restart": spec.get("restart"), "volumes": [], "networks": [], "labels": {},
        })
    return pd.DataFrame(rows, columns=CATALOG_COLUMNS)


def inventory(containers: list[dict], project: str = "p") -> pd.DataFrame:
    """containers: dicts with service, state, health, … (the rest defaulted)."""
    from runbook_lib.engine.inventory import COLUMNS
    rows = []
    for c in containers:
        row = {k: None for k in COLUMNS}
        row.update({"project": project, "name": f"{project}-{c['service']}-1", "id": c["service"][:12],
                    "health": "none", "has_healthcheck": False, "restart_count": 0, "oom_killed": False,
                    "published_ports": [], "failing_streak": 0, "health_output": ""})
        row.update(c)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
