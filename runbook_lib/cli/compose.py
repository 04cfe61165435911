"""`runbook catalog` and `runbook lint`: the compose files as one row per service, and their lint.

``catalog --json`` and ``lint`` of given files work on records (``compose.records``,
``analysis.lint_records``) and import no pandas; the text table of ``catalog`` and the
engine path (files found from the containers' labels) import it when they run.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from runbook_lib import redact
from runbook_lib.analysis.lint_records import lint_findings, severity_rank
from runbook_lib.compose.records import COLUMNS, CatalogRecords, catalog_summary, load_records
from runbook_lib.config import load_config
from runbook_lib.knowledge.signatures import SEVERITY_RANK


def _catalog(args) -> CatalogRecords:
    """The catalog of ``--compose`` files, else of the project found from the containers' labels."""
    if args.compose:  # what gather(use_engine=False) does, without the engine layer (docker SDK) or pandas
        return load_records(args.compose, project_name=args.project, profiles=args.profile or None,
                            config=load_config(args.config))
    # imported here, not at the top: only the engine path pays for the docker SDK (cli defers imports)
    from runbook_lib import stack as gather_stack  # noqa: PLC0415
    stack = gather_stack.gather(args.engine_url, project=args.project, compose_files=args.compose,
                                config=args.config, profiles=args.profile or None,
                                engine_timeout_s=args.engine_timeout)
    return stack.require_catalog()


def _hosts(args) -> list:
    """The named hosts (--host, RUNBOOK_HOSTS, hosts: in runbook.yaml); [] for the one engine.

    ``--compose FILE`` without ``--host`` reads only the files, as before hosts existed."""
    if args.compose and not getattr(args, "host", None):
        return []
    from runbook_lib.cli.hostargs import named_hosts  # noqa: PLC0415 - cli defers imports
    return named_hosts(args)


def cmd_catalog(args) -> int:
    """``runbook catalog``: load and validate the compose files, print one row per service."""
    hosts = _hosts(args)
    if hosts:
        from runbook_lib.cli.compose_hosts import catalog_hosts  # noqa: PLC0415 - cli defers imports
        return catalog_hosts(args, hosts, _print_catalog)
    catalog = _catalog(args)
    if args.json:
        print(json.dumps({"summary": catalog_summary(catalog),
                          "services": [{c: r[c] for c in COLUMNS} for r in catalog.rows]}, default=str, indent=2))
        return 0
    _print_catalog(catalog)
    return 0


def _print_catalog(catalog: CatalogRecords) -> None:
    # imported here, not at the top: only the text table pays for pandas (cli defers imports)
    import pandas as pd  # noqa: PLC0415
    from runbook_lib.analysis import tiers  # noqa: PLC0415
    from runbook_lib.compose.catalog import Catalog, catalog_table  # noqa: PLC0415
    if not isinstance(catalog, Catalog):
        catalog = Catalog.of(catalog)
    summary = catalog_summary(catalog)
    tiers_text = ", ".join(f"{tiers.tier_label(t)} {n}" for t, n in summary["by_tier"].items())
    print(f"project {catalog.project}: {summary['services']} services ({tiers_text}); "
          f"files: {', '.join(catalog.files)}")
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 60, "display.width", 200):
        print(catalog_table(catalog).to_string(index=False))
    for name, profs in catalog.inactive.items():
        print(f"inactive: {name} (profiles: {', '.join(profs)})")
    for note in catalog.notes:
        print(f"note: {redact.mask_text(note)}")


def cmd_lint(args) -> int:
    """``runbook lint``: lint the compose files (given, or found from the running project's labels).

    Exits 1 when a critical or high finding is shown, so CI can gate on it.
    """
    hosts = _hosts(args)
    if hosts:
        from runbook_lib.cli.compose_hosts import lint_hosts  # noqa: PLC0415 - cli defers imports
        return lint_hosts(args, hosts, _print_findings)
    catalog = _catalog(args)
    floor = SEVERITY_RANK[args.min_severity or "low"]
    findings = [f for f in lint_findings(catalog) if severity_rank(f.severity) <= floor]
    if args.json:
        print(json.dumps({"project": catalog.project, "files": list(catalog.files),
                          "findings": [asdict(f) for f in findings]}, indent=2))
    else:
        _print_findings(catalog, findings)
    return 1 if any(severity_rank(f.severity) <= SEVERITY_RANK["high"] for f in findings) else 0


def _print_findings(catalog: CatalogRecords, findings: Sequence[Any]) -> None:
    """Print findings: records with severity, service, key, category, message, fix and file attributes."""
    print(f"project {catalog.project}: {len(findings)} lint findings in {', '.join(catalog.files)}")
    for r in findings:
        print(f"[{r.severity}] {r.service} {r.key} ({r.category}): {r.message}\n    fix: {r.fix}\n    file: {r.file}")
