"""The postmortem report (notebooks/postmortem.ipynb): one incident, from what runbook recorded.

``build`` is the I/O edge: it reads the alerts database (the incident, its diagnosis snapshot
taken when it opened, the messages sent), the history store (state changes, raw samples for
time to detect, the Docker events the collector recorded), the audit log (who ran what,
dry-run or applied, the outcome) and, when the engine answers, its live container events
(merged with the stored ones, each event once); then, when the compose files can be found,
the lint findings. ``assemble`` is pure.

Time to detect runs from the first *raw* failure sample to the first alert delivered
(``history.timing``), not from the debounced state's start.
Nothing here fails for a missing source: it becomes a problem line and the report goes on.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.alerts.outbox import AlertsDB
from runbook_lib.alerts.outbox import default_path as alerts_db_path
from runbook_lib.analysis.lint import lint_catalog
from runbook_lib.engine.audit import read_audit
from runbook_lib.engine.events import event_row, read_events
from runbook_lib.history.sqlite_events import EVENT_COLUMNS
from runbook_lib.history.store import open_store, resolve_path
from runbook_lib.history.timing import detect_and_recover_s, first_delivered, first_raw_failure
from runbook_lib.history.uptime import fmt_duration, parse_time
from runbook_lib.stack import gather

TIMELINE_COLUMNS = ["ts", "source", "service", "what", "who", "outcome"]
MARGIN = pd.Timedelta(minutes=30)
ROOT_COLUMNS = ["service", "cause", "fix", "category", "blocks", "evidence"]
TIMING_COLUMNS = ["service", "first failure", "state changed", "first alert", "time to detect", "time to recover"]


@dataclass
class Postmortem:
    """Everything the postmortem notebook shows."""

    incident: dict[str, Any]
    start: pd.Timestamp
    end: pd.Timestamp
    timeline: pd.DataFrame
    metrics: dict[str, str]
    affected: pd.DataFrame
    root_causes: pd.DataFrame
    lint: pd.DataFrame
    action_items: list[str]
    problems: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # services only blocked by the root causes (snapshot)
    snapshot_note: str = ""                           # when the diagnosis was taken; truncated or not
    timings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TIMING_COLUMNS))  # per service


def _t(value: Any) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def pick_incident(incidents: pd.DataFrame, incident: str | None = None) -> dict[str, Any] | None:
    """The named incident, else the most recent one (None when there is none)."""
    if incidents is None or incidents.empty:
        return None
    if incident:
        hit = incidents[incidents["id"] == incident]
        return hit.iloc[0].to_dict() if len(hit) else None
    return incidents.sort_values("opened_at").iloc[-1].to_dict()


def window_incident(incidents: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                    project: str | None = None) -> dict[str, Any]:
    """A pseudo-incident covering [start, end): the incidents opened in it (``members``), merged
    (``-p start -p end``); timed per member by ``assemble``, like the incident form."""
    inside = incidents[(incidents["opened_at"] >= start) & (incidents["opened_at"] < end)] \
        if incidents is not None and len(incidents) else pd.DataFrame(columns=["service", "first_alert_at"])
    if project and "project" in inside.columns:
        inside = inside[inside["project"] == project]
    inside = inside.sort_values("opened_at", kind="stable") if len(inside) else inside
    alerts = inside["first_alert_at"].dropna() if len(inside) else pd.Series(dtype=object)
    first = inside.iloc[0].to_dict() if len(inside) == 1 else {}
    snaps = inside["snapshot_id"].dropna() if "snapshot_id" in inside.columns else pd.Series(dtype=object)
    return {"id": f"{start.isoformat(timespec='seconds')}..{end.isoformat(timespec='seconds')}",
            "project": project or "", "service": ", ".join(sorted(set(inside["service"]))) or "*",
            "host": ", ".join(sorted({str(h) for h in inside.get("host", pd.Series(dtype=str)).fillna("") if h})),
            "state": "window", "opened_at": start,
            "first_failure_at": inside["first_failure_at"].min() if len(inside) else start,
            "first_alert_at": alerts.min() if len(alerts) else None,
            "closed_at": inside["closed_at"].max() if len(inside) and inside["closed_at"].notna().all() else end,
            "root_cause": first.get("root_cause"), "fix": first.get("fix"), "diagnosis": first.get("diagnosis"),
            "snapshot_id": snaps.iloc[0] if len(snaps) else None, "members": inside.to_dict("records")}



def incident_hosts(incident: dict[str, Any]) -> set[str] | None:
    """The engine hosts of an incident (a window: of its incidents); None when none names a host."""
    members = incident.get("members") if incident.get("state") == "window" else [incident]
    hosts = {str(m.get("host") or "") for m in members or []}
    return hosts if any(hosts) else None


def on_hosts(frame: pd.DataFrame | None, hosts: set[str] | None) -> pd.DataFrame | None:
    """The rows of ``frame`` on these engine hosts (unchanged when no host is given or it has no host column)."""
    if frame is None or hosts is None or "host" not in frame.columns:
        return frame
    return frame[frame["host"].fillna("").astype(str).isin(hosts)].reset_index(drop=True)


def _iso(t: pd.Timestamp | None) -> str:
    return "none" if t is None else t.isoformat(timespec="seconds")


def member_timings(member: dict[str, Any], samples: pd.DataFrame | None,
                   messages: pd.DataFrame) -> dict[str, Any]:
    """One incident's (first raw failure, state change, first delivered alert, closed): the raw failure
    run that led to the state change (``history.timing``), the alerts of its own outbox rows."""
    state_from = _t(member.get("first_failure_at")) or _t(member["opened_at"])
    raw = first_raw_failure(on_hosts(samples, {str(member.get("host") or "")}), member["service"], state_from,
                            member.get("project") or None)
    own = messages
    if len(messages) and "incident" in messages.columns and member.get("id"):
        own = messages[messages["incident"].fillna("").str.contains(str(member["id"]), regex=False)]
    return {"host": str(member.get("host") or ""), "service": member["service"],
            "first_fail": min(raw, state_from) if raw is not None else state_from,
            "state_from": state_from, "alert_at": first_delivered(own) or _t(member.get("first_alert_at")),
            "closed": _t(member.get("closed_at"))}


def timing_table(timings: list[dict[str, Any]]) -> pd.DataFrame:
    """Per affected service: first failure, state change, first alert, TTD and TTR (formatted); with the
    engine host first when any incident is on a named host."""
    rows = []
    for t in timings:
        ttd, ttr = detect_and_recover_s(t["first_fail"], t["alert_at"], t["closed"])
        rows.append({"host": t.get("host") or "", "service": t["service"], "first failure": _iso(t["first_fail"]),
                     "state changed": _iso(t["state_from"]), "first alert": _iso(t["alert_at"]),
                     "time to detect": fmt_duration(ttd) if ttd is not None else "no alert sent",
                     "time to recover": fmt_duration(ttr) if ttr is not None else "still open"})
    hosts = any(r["host"] for r in rows)
    return pd.DataFrame(rows, columns=["host", *TIMING_COLUMNS] if hosts else TIMING_COLUMNS)


def state_changes(intervals: pd.DataFrame) -> pd.DataFrame:
    rows = [{"ts": r["start"], "source": "store", "service": r["service"], "what": f"state → {r['state']}",
             "who": "runbook collect", "outcome": r.get("first_error") or ""} for r in intervals.to_dict("records")]
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def audit_rows(audit: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in audit.to_dict("records"):
        if r.get("phase") == "started":
            continue
        mode = "dry-run" if r.get("dry_run") else "applied"
        rows.append({"ts": r["ts"], "source": "audit", "service": r.get("target") or "",
                     "what": f"{r.get('action')} ({mode})", "who": f"{r.get('user')}@{r.get('host')}",
                     "outcome": str(r.get("outcome") or "")})
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def alert_rows(messages: pd.DataFrame) -> pd.DataFrame:
    rows = [{"ts": r["sent_at"] if not pd.isna(r["sent_at"]) else r["created_at"], "source": "alert",
             "service": "", "what": f"{r['kind']}: {r['title']}", "who": "runbook alerts",
             "outcome": r["status"] + (f" ({r['last_error']})" if r.get("last_error") else "")}
            for r in messages.to_dict("records")]
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def merge_events(stored: pd.DataFrame | None, live: Any = ()) -> pd.DataFrame:
    """Stored events (``HistoryStore.events``) and live ones (event rows, or raw engine events), each once."""
    rows = [] if stored is None or stored.empty else stored.to_dict("records")
    for e in live if live is not None else []:
        row = e if "action" in e and "ts" in e else event_row(e)
        if row is not None:
            rows.append(row)
    seen: set[tuple[int, str, str]] = set()
    out = []
    for r in rows:
        key = (pd.Timestamp(r["ts"]).value, str(r.get("container_id") or "")[:12], str(r["action"]))
        if key not in seen:
            seen.add(key)
            out.append({c: r.get(c) for c in EVENT_COLUMNS})
    df = pd.DataFrame(out, columns=EVENT_COLUMNS)
    if len(df):
        df["ts"] = pd.to_datetime(df["ts"], utc=True)
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def event_rows(events: Any) -> pd.DataFrame:
    """Timeline rows from Docker events (a frame of EVENT_COLUMNS, or a list of rows / raw engine events)."""
    frame = events if isinstance(events, pd.DataFrame) else merge_events(None, events)
    rows = []
    for e in frame.to_dict("records"):
        code = e.get("exit_code")
        detail = str(e.get("detail") or "")
        rows.append({"ts": e["ts"], "source": "docker", "service": e.get("service") or e.get("container") or "",
                     "what": f"container {e['action']}" + (f": {detail}" if detail else ""), "who": "engine",
                     "outcome": "" if code is None or pd.isna(code) else f"exit {int(code)}"})
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def _diagnosis(incident: dict[str, Any]) -> dict[str, Any]:
    """The incident's diagnosis with its snapshot: the round's shared one (``AlertsDB.with_snapshot``),
    else the copy that incidents stored before snapshots were shared keep inline."""
    raw = incident.get("diagnosis")
    try:
        diag = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        diag = {}
    if isinstance(incident.get("snapshot"), dict):
        diag["snapshot"] = incident["snapshot"]
    return diag


def root_cause_rows(incident: dict[str, Any], diag: dict[str, Any]) -> tuple[pd.DataFrame, list[str], str]:
    """(root causes with all their evidence, blocked services, snapshot note) from the incident's snapshot;
    the incident's own root cause first. Incidents stored before snapshots held one summary row."""
    snap = diag.get("snapshot") if isinstance(diag.get("snapshot"), dict) else None
    own = diag.get("service") or incident["service"]
    if not snap or not snap.get("root_causes"):
        row = {"service": own, "cause": incident.get("root_cause") or "not diagnosed when the incident opened",
               "fix": incident.get("fix") or "", "category": diag.get("category") or "",
               "blocks": ", ".join(diag.get("blocks") or []), "evidence": "\n".join(diag.get("evidence") or [])}
        note = "" if snap is None else "the diagnosis found no root cause when the incident opened"
        return pd.DataFrame([row], columns=ROOT_COLUMNS), list(diag.get("blocks") or []), note
    causes = sorted(snap["root_causes"], key=lambda r: r.get("service") != own)
    rows = [{"service": r.get("service"), "cause": r.get("cause") or "", "fix": r.get("fix") or "",
             "category": r.get("category") or "", "blocks": ", ".join(r.get("blocks") or []),
             "evidence": "\n".join(r.get("evidence") or [])} for r in causes]
    note = f"diagnosed at {snap.get('taken_at') or 'incident open'}"
    if snap.get("truncated"):
        note += "; the snapshot was truncated to its size cap (see the evidence's last line)"
    return pd.DataFrame(rows, columns=ROOT_COLUMNS), list(snap.get("blocked") or []), note


def assemble(incident: dict[str, Any], *, intervals: pd.DataFrame, audit: pd.DataFrame, messages: pd.DataFrame,
             events: Any, lint: pd.DataFrame | None, dependents: dict[str, set[str]] | None,
             now: pd.Timestamp, problems: list[str] | None = None,
             samples: pd.DataFrame | None = None) -> Postmortem:
    """Frames in, a Postmortem out (pure). ``samples``: raw samples (time to detect starts at the
    first raw failure); ``events``: merged Docker events (``merge_events``) or a list of them."""
    members = incident.get("members") if incident.get("state") == "window" else [incident]
    messages = messages if messages is not None else pd.DataFrame()
    timings = [member_timings(m, samples, messages) for m in members or []]
    if timings:  # overall: the first raw failure of any, the first alert delivered, the last recovery
        first_fail = min(t["first_fail"] for t in timings)
        state_from = min(t["state_from"] for t in timings)
        alert_at = min((t["alert_at"] for t in timings if t["alert_at"] is not None), default=None)
        closed = None if any(t["closed"] is None for t in timings) else max(t["closed"] for t in timings)
    else:  # a window without incidents
        first_fail = state_from = _t(incident["opened_at"])
        alert_at, closed = None, _t(incident.get("closed_at"))
    ttd_s, ttr_s = detect_and_recover_s(first_fail, alert_at, closed)
    start, end = first_fail - MARGIN, (closed or now) + MARGIN
    parts = [state_changes(intervals), audit_rows(audit), alert_rows(messages), event_rows(events)]
    parts = [p for p in parts if not p.empty]
    tl = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TIMELINE_COLUMNS)
    if len(tl):
        tl["ts"] = pd.to_datetime(tl["ts"], utc=True)
        tl = tl[(tl["ts"] >= start) & (tl["ts"] <= end)].sort_values("ts", kind="stable").reset_index(drop=True)
    tl = redact.mask_frame(tl, ["what", "who", "outcome"])
    metrics = {"first failure": first_fail.isoformat(timespec="seconds"),
               "state changed": state_from.isoformat(timespec="seconds"),
               "first alert": alert_at.isoformat(timespec="seconds") if alert_at is not None else "none",
               "time to detect": fmt_duration(ttd_s) if ttd_s is not None else "no alert sent",
               "time to recover": fmt_duration(ttr_s) if ttr_s is not None else "still open",
               "status": "resolved" if closed else "open"}
    diag = _diagnosis(incident)
    service = incident["service"]
    failed = [t["service"] for t in timings] or [service]
    deps = set(diag.get("blocks") or []).union(*[(dependents or {}).get(f, set()) for f in failed])
    affected = pd.DataFrame([{"service": f, "role": "failed"} for f in dict.fromkeys(failed)] +
                            [{"service": d, "role": "depends on it"} for d in sorted(deps - set(failed))],
                            columns=["service", "role"])
    roots, blocked, snapshot_note = root_cause_rows(incident, diag)
    lint = lint if lint is not None else pd.DataFrame()
    items = [f"Fix the root cause of {service} — {incident['fix']}"] if incident.get("fix") else []
    if alert_at is None:
        items.append("No alert was sent: configure `notify:` in runbook.yaml (docs/alerts.md).")
    if len(lint) and "severity" in lint.columns:
        for r in lint[lint["severity"].isin(["critical", "high"])].head(10).to_dict("records"):
            items.append(f"{r.get('service')}: {r.get('fix') or r.get('message') or r.get('rule')}")
    items = [str(redact.mask_text(i)) for i in items]
    return Postmortem(incident=incident, start=start, end=end, timeline=tl, metrics=metrics, affected=affected,
                      root_causes=redact.mask_frame(roots, ROOT_COLUMNS), lint=lint, action_items=items,
                      problems=list(problems or []), blocked=blocked, snapshot_note=snapshot_note,
                      timings=timing_table(timings))


def _engine_events(client: Any, start: pd.Timestamp, end: pd.Timestamp, project: str | None) -> list[dict[str, Any]]:
    until = min(end, pd.Timestamp.now(tz="UTC"))  # a future ``until`` would keep the stream open
    return read_events(client, start, until, project=project) if until > start else []


def build(incident: str | None = None, *, store_path: str | None = None, alerts_db: str | None = None,
          audit_log: str | None = None, engine_url: str | None = None, project: str | None = None,
          compose_files: list[str] | None = None, config_path: str | None = None,
          start: Any = None, end: Any = None, now: pd.Timestamp | None = None) -> Postmortem | None:
    """Read every source for one incident (default: the most recent; ``start``/``end``: a time window)."""
    now = now or pd.Timestamp.now(tz="UTC")
    problems: list[str] = []
    path = alerts_db or alerts_db_path(resolve_path(store_path))
    if not os.path.exists(path):
        return None
    db = AlertsDB(path)
    try:
        messages = db.messages()
        if start is not None or end is not None:
            w0 = parse_time(start or "7d", now)
            w1 = parse_time(end or "now", now)
            inc = db.with_snapshot(window_incident(db.incidents(), w0, w1, project))
            messages = messages[(messages["created_at"] >= w0) & (messages["created_at"] < w1)]
        else:
            inc = pick_incident(db.incidents(), incident)
            if inc is None:
                return None
            inc = db.with_snapshot(inc)
            messages = messages[messages["incident"].fillna("").str.contains(inc["id"], regex=False)]
    finally:
        db.close()
    first = _t(inc.get("first_failure_at")) or _t(inc["opened_at"])
    start, end = first - MARGIN, (_t(inc.get("closed_at")) or now) + MARGIN
    intervals = pd.DataFrame(columns=["service", "state", "start", "first_error"])
    samples, stored_events = None, None
    hosts = incident_hosts(inc)  # an incident on a named engine host reads that host's history only
    try:
        with open_store(store_path, readonly=True) as store:
            intervals = on_hosts(store.intervals(since=start, until=end, project=inc["project"] or None), hosts)
            samples = on_hosts(store.samples(since=start, until=end, project=inc["project"] or None), hosts)
            if hasattr(store, "events") and store.version >= 3:
                stored_events = on_hosts(store.events(since=start, until=end, project=project or inc["project"]
                                                      or None), hosts)
    except Exception as exc:  # noqa: BLE001 - a missing store is a problem line, not a failure
        problems.append(redact.mask_text(f"history store not read: {exc}"))
    audit = read_audit(audit_log, since=start)
    events: list[dict[str, Any]] = []  # live engine events, merged with the stored ones
    lint_df, dependents = None, None
    stack = gather(engine_url, project=project or inc["project"] or None, compose_files=compose_files or [],
                   config=config_path)
    try:
        if stack.engine_ok:
            try:
                events = _engine_events(stack.client, start, end, project or inc["project"] or None)
            except Exception as exc:  # noqa: BLE001
                problems.append(redact.mask_text(f"engine events not read: {exc}"))
        else:
            problems.append("engine not reachable: no Docker events in the timeline")
        if stack.catalog is not None:
            lint_df = lint_catalog(stack.catalog)
            dependents = stack.catalog.dependents()
        else:
            problems.append("compose files not found: no lint findings and no dependents")
    finally:
        if stack.client is not None:
            stack.client.close()
    return assemble(inc, intervals=intervals, audit=audit, messages=messages,
                    events=merge_events(stored_events, events), lint=lint_df, dependents=dependents, now=now,
                    problems=problems, samples=samples)
