"""Shared helpers of the compose tests (test_compose_*.py)."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from runbook_lib.compose.catalog import Catalog, load_catalog
from runbook_lib.config import RunbookConfig

NO_CONFIG = RunbookConfig()
# Plain-text secrets of tests/fixtures/ledgerline-erp (invented; see its README).
FIXTURE_SECRETS = ["ledgerline_pg_2025", "ledgerline_redis_2025", "ledgerline_minio_2025", "ledgerline_grafana_2025",
                   "ledgerline_rabbit_2025", "ledgerline_jwt_access_2025", "ledgerline_jwt_refresh_2025",
                   "ledgerline_pgadmin_2025", "ledgerline_elastic_2025"]


def load(files, **kw) -> Catalog:
    kw.setdefault("environ", {})
    kw.setdefault("config", NO_CONFIG)
    return load_catalog(files, **kw)


def write(tmp_path: Path, text: str, name: str = "docker-compose.yml") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def dump(cat: Catalog) -> str:
    """Everything a report could show of a catalog."""
    return json.dumps(cat.frame.to_dict("records"), default=str) + cat.frame.to_string() + " ".join(cat.notes)


def row(cat: Catalog, service: str) -> dict:
    return cat.frame.set_index("service").loc[service].to_dict()


def all_fixture_files(d: Path) -> list[Path]:
    """Every compose file under a fixture folder."""
    return sorted(d.rglob("*.yml")) + sorted(d.rglob("*.yaml"))
