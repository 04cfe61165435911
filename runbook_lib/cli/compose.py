"""`runbook catalog` and `runbook lint`: the compose files as one row per service, and their lint."""
from __future__ import annotations

import json

import pandas as pd

from runbook_lib import redact
from runbook_lib.analysis import tiers
from runbook_lib.analysis.lint import SEVERITY_RANK, lint_catalog
from runbook_lib.compose.catalog import Catalog, catalog_summary, catalog_table, load_catalog
from runbook_lib.config import load_config


def _catalog(args) -> Catalog:
    """The catalog of ``--compose`` files, else of the project found from the containers' labels."""
    if args.compose:  # what gather(use_engine=False) does, without importing the engine layer (docker SDK)
        return load_catalog(args.compose, project_name=args.project, profiles=args.profile or None,
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
                          "services": catalog.frame.to_dict("records")}, default=str, indent=2))
        return 0
    _print_catalog(catalog)
    return 0


def _print_catalog(catalog: Catalog) -> None:
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
    findings = lint_catalog(catalog)
    floor = SEVERITY_RANK[args.min_severity or "low"]
    findings = findings[findings["severity"].map(SEVERITY_RANK) <= floor].reset_index(drop=True)
    if args.json:
        print(json.dumps({"project": catalog.project, "files": list(catalog.files),
                          "findings": findings.to_dict("records")}, indent=2))
    else:
        _print_findings(catalog, findings)
    return 1 if (findings["severity"].map(SEVERITY_RANK) <= SEVERITY_RANK["high"]).any() else 0


def _print_findings(catalog: Catalog, findings: pd.DataFrame) -> None:
    print(f"project {catalog.project}: {len(findings)} lint findings in {', '.join(catalog.files)}")
    for r in findings.itertuples():
        print(f"[{r.severity}] {r.service} {r.key} ({r.category}): {r.message}\n    fix: {r.fix}\n    file: {r.file}")
