"""Remedy classes: what brings a root cause back, from its signature and the technology table.

Four classes, cheapest first:

- ``restart``: a transient crash, or a dependency that was down and is up now
  (``docker start`` / ``docker restart`` is enough);
- ``recreate``: the compose configuration is wrong (environment, command, healthcheck,
  limits). ``docker restart`` keeps the container's old configuration; only
  ``docker compose up -d --no-deps SVC`` applies the fixed file;
- ``rebuild``: the image content is wrong (a missing module, compile errors): rebuild the
  image (``docker compose build SVC`` when the service has a ``build:`` section), then
  recreate;
- ``external``: a person fixes something outside the stack (credentials, DNS of an outside
  host, a full disk), then the service is restarted.

Every class but ``restart`` puts a manual *fix* step in the plan before the service is
touched. The class comes from the signature's ``remedy`` field when the signature record
has one (proposed field of ``knowledge/signatures.yaml``), else from ``REMEDY_BY_CATEGORY``
below, else ``restart``. Pure: records in, strings out; no pandas (the records plan imports it),
``with_remedies`` works on the frame it is given.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from runbook_lib.analysis.frames import as_list, is_missing
from runbook_lib.knowledge.signatures import log_signatures

REMEDIES = ("restart", "recreate", "rebuild", "external")
RANK = {r: i for i, r in enumerate(REMEDIES)}

# finding category (signature id, state signature, status finding) -> remedy class.
# Lead: move these into signatures.yaml as a `remedy:` field per record; remedy_for() reads
# that field first.
REMEDY_BY_CATEGORY: Mapping[str, str] = {
    # image content
    "missing-module": "rebuild",
    "typescript-compile-error": "rebuild",
    "command-not-found": "rebuild",
    "missing-npm-script": "rebuild",
    # compose configuration
    "localhost-connection-refused": "recreate",
    "healthcheck-command-missing": "recreate",
    "health-endpoint-missing": "recreate",
    "missing-env-var": "recreate",
    "port-in-use": "recreate",
    "oom": "recreate",
    "slow-startup": "recreate",
    "not-created": "recreate",
    # outside the stack
    "db-auth-failure": "external",
    "disk-full": "external",
    "permission-denied": "external",
    "engine-unreachable": "external",
    "dns-failure": "external",   # refined by the host it could not resolve (see remedy_for)
    # transient, or a dependency that was down
    "kafka-broker-unavailable": "restart",
    "connection-refused": "restart",
    "timeout": "restart",
    "crash-loop": "restart",
    "healthcheck-failing": "restart",
    "unclassified": "restart",
    "created": "restart",
}

WHAT = {
    "restart": "a restart is enough",
    "recreate": "fix the compose file, then recreate the container (a restart keeps the old configuration)",
    "rebuild": "fix the image content, rebuild it, then recreate the container",
    "external": "fix it outside the stack, then restart the service",
}


def _signature_remedies() -> dict[str, str]:
    """signature id -> remedy, for signature records that carry a ``remedy`` field."""
    out = {}
    for sig in log_signatures():
        value = getattr(sig, "remedy", None)
        if value in RANK:
            out[sig.category] = str(value)
    return out


def _details(finding: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [d for d in as_list(finding.get("details")) if isinstance(d, Mapping)]


def remedy_for(finding: Mapping[str, Any], services: Iterable[str] = ()) -> str:
    """The remedy class of one finding (a findings-frame row as a dict).

    ``services``: the catalog's service names; a DNS failure of one of them is a dependency
    that was down (restart), of a near miss a typo in the compose file (recreate), of any
    other host an outside problem (external).
    """
    category = str(finding.get("category") or "")
    if category == "dns-failure":
        names = sorted(str(s) for s in services)
        hosts = [str(d.get("dnshost") or "") for d in _details(finding)]
        hosts = [h for h in hosts if h]
        if hosts and all(h in names for h in hosts):
            return "restart"
        if hosts and names and any("." not in h and difflib.get_close_matches(h, names, n=1, cutoff=0.6)
                                   for h in hosts):
            return "recreate"
        return "external"
    remedy = _signature_remedies().get(category) or REMEDY_BY_CATEGORY.get(category)
    return remedy if remedy in RANK else "restart"


def finding_id(service: Any, category: Any) -> str:
    """The stable id of a finding: ``service:category`` (plan steps point at it)."""
    svc = "" if is_missing(service) else str(service)
    return f"{svc}:{category}"


def with_remedies(findings: Any, services: Iterable[str] = ()) -> Any:
    """The findings frame with ``finding_id`` and ``remedy`` columns added (a copy; object columns)."""
    out = findings.copy()
    names = list(services)
    rows = out.to_dict("records")
    empty = out.index.astype(object)  # an empty object column, without importing pandas
    out["finding_id"] = [finding_id(r["service"], r["category"]) for r in rows] if rows else empty
    out["remedy"] = [remedy_for(r, names) for r in rows] if rows else empty
    return out


def fix_text(finding: Mapping[str, Any], remedy: str, *, build: bool = False, image: str | None = None) -> str:
    """What the person does in the manual fix step: the finding's fix, then what runbook does next."""
    fix = str(finding.get("fix") or "").strip().rstrip(".")
    if remedy == "rebuild":
        then = ("runbook then rebuilds the image (`docker compose build`) and recreates the container" if build
                else f"rebuild and publish the image{f' `{image}`' if image else ''} (the service has no "
                     f"`build:` section); runbook then recreates the container")
    elif remedy == "recreate":
        then = "runbook then recreates the container from the compose file"
    elif remedy == "external":
        then = "runbook then restarts the service"
    else:
        then = ""
    return f"{fix}; {then}" if fix and then else (fix or then)
