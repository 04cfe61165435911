"""`runbook plan --apply --resume`: after a confirmed fix, a fresh diagnosis says whether it took."""
from __future__ import annotations

from collections.abc import Callable

from runbook_lib.analysis.diagnosis import run_diagnosis
from runbook_lib.stack import Stack


def fresh_verifier(regather: Callable[[], Stack], project: str | None) -> Callable[[str], tuple[bool, str]]:
    """verify(service): diagnose a freshly gathered stack (one engine, or one named host); the fix took
    when the service has no root cause any more."""
    def verify(service: str) -> tuple[bool, str]:
        fresh = regather()
        if project and fresh.project is None:
            fresh.project = project
        roots = run_diagnosis(fresh).root_causes
        fresh_roots = roots[roots["service"].astype(str) == service] if len(roots) else roots
        if not len(fresh_roots):
            return True, f"a fresh diagnosis finds no root cause in {service}"
        r = fresh_roots.iloc[0]
        ev = list(r["evidence"] or [])
        return False, f"{r['category']}: {r['cause']}" + (f" (evidence: {ev[0][:200]})" if ev else "")
    return verify
