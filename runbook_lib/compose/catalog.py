"""Compose files -> Catalog: what *should* be running, one row per service, as a DataFrame.

The files are read by ``compose.records`` (``load_records``: YAML 1.2, anchors, ``.env``,
interpolation, override merge, ``extends``, profiles, ``depends_on``; broken input raises
ComposeError naming the file, the service and the fix). ``Catalog`` is those records plus
``frame``, built from the records the first time it is read.

``Catalog.frame`` is masked (safe to display); ``Catalog.raw`` keeps unmasked
environment and command for probes' credentials and is never displayed. Commands that
need no frame (``runbook catalog --json``, ``runbook lint``) use ``compose.records``
directly and never import pandas.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import pandas as pd

from runbook_lib import config as rb_config
from runbook_lib.compose.discover import find_compose_files
from runbook_lib.compose.interpolate import interpolate, parse_env_file
from runbook_lib.compose.normalise import CONDITIONS, HEALTHCHECK_DEFAULTS, parse_port, parse_volume
from runbook_lib.compose.records import COLUMNS, CatalogRecords, catalog_summary, load_records, normalise_project_name

__all__ = ["COLUMNS", "CONDITIONS", "HEALTHCHECK_DEFAULTS", "Catalog", "catalog_summary", "catalog_table",
           "find_compose_files", "interpolate", "load_catalog", "normalise_project_name", "parse_env_file",
           "parse_port", "parse_volume"]


@dataclass(frozen=True)
class Catalog(CatalogRecords):
    """What should run: ``frame`` (masked, displayable) and ``raw`` (unmasked, never displayed)."""

    @classmethod
    def of(cls, records: CatalogRecords) -> Catalog:
        """The Catalog of records already loaded (no copy of rows or specs)."""
        return cls(**{f.name: getattr(records, f.name) for f in fields(CatalogRecords)})

    @cached_property
    def frame(self) -> pd.DataFrame:
        """One masked row per service (COLUMNS), built from ``rows`` on first read."""
        frame = pd.DataFrame(list(self.rows), columns=COLUMNS, dtype=object)  # keep None (not NaN) in text columns
        return frame.astype({"build": bool, "has_healthcheck": bool})


def load_catalog(files: list[str | Path] | str | Path, env_file: str | Path | None = None,
                 project_name: str | None = None, profiles: Iterable[str] | str | None = None,
                 environ: Mapping[str, str] | None = None,
                 config: rb_config.RunbookConfig | str | Path | None = None) -> Catalog:
    """``records.load_records`` (same arguments and errors) as a Catalog, whose frame is built on first read."""
    return Catalog.of(load_records(files, env_file=env_file, project_name=project_name, profiles=profiles,
                                   environ=environ, config=config))


def catalog_table(catalog: Catalog) -> pd.DataFrame:
    """A compact, masked, printable view of the catalog."""
    f = catalog.frame
    def deps(ds: list[dict]) -> str:
        return ", ".join(d["service"] + ("" if d["condition"] == "service_started" else
                                         f" ({d['condition'].removeprefix('service_')})") for d in ds)

    def ports(ps: list[dict]) -> str:
        return ", ".join(f"{p['host_port'] or '*'}:{p['container_port']}" + (
            "" if p["protocol"] == "tcp" else f"/{p['protocol']}") for p in ps)

    return pd.DataFrame({
        "service": f["service"], "tier": f["tier"],
        "image": [("build" if b and not i else (f"{i} (build)" if b else i)) for i, b in zip(f["image"], f["build"])],
        "healthcheck": ["yes" if h else "-" for h in f["has_healthcheck"]],
        "depends_on": [deps(d) for d in f["depends_on"]],
        "ports": [ports(p) for p in f["ports"]],
    })
