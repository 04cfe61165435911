"""One message per incident: down after the failure threshold, recovered after the success threshold.

The collector calls ``Notifier.on_round(ts, states)`` after each round with the effective
(already debounced) state of every service. The notifier opens an incident when a service
enters a problem state, closes it when the service is up again, reminds at an interval while
it stays open, and groups a storm (``storm_min`` or more services failing in one round) into
one message naming the root causes, their fixes and how many services are only blocked.
Messages go through the outbox: delivery faults are retried with backoff, recorded, and
never raised; at most ``max_per_round`` messages go to one target per round.

Incidents are keyed by (host, project, service): with ``runbook collect --host a=… --host b=…``
the same service failing on two engines is two incidents, each message naming its engine host
(host '' is the single default engine: messages name this machine, as before). Root causes are
diagnosed per host (``host_diagnose``) and never attached to another host's incident.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.alerts import targets as targets_mod
from runbook_lib.alerts.outbox import AlertsDB, default_path
from runbook_lib.alerts.snapshot import build_snapshot
from runbook_lib.alerts.targets import Target
from runbook_lib.analysis.diagnosis import root_cause_summary, run_diagnosis
from runbook_lib.stack import gather

PROBLEM_STATES = {"down": "critical", "stopped": "critical", "degraded": "warning"}
DEFAULT_REMINDER_S = 3600.0
DEFAULT_STORM_MIN = 5
DEFAULT_MAX_PER_ROUND = 5

DiagnoseFunc = Callable[[], list[dict[str, Any]]]  # root_cause_summary rows: service, cause, fix, blocks
SuppressFunc = Callable[[str, str, pd.Timestamp, str | None], bool]  # (project, service, ts, engine host) -> in maintenance
SendFunc = Callable[[Target, str, str], tuple[bool, str | None]]


@dataclass
class Notifier:
    """Turns rounds of effective states into incident messages (see the module docstring)."""

    targets: list[Target]
    db: AlertsDB
    host: str = field(default_factory=socket.gethostname)
    reminder_s: float = DEFAULT_REMINDER_S
    storm_min: int = DEFAULT_STORM_MIN
    max_per_round: int = DEFAULT_MAX_PER_ROUND
    diagnose: DiagnoseFunc | None = None
    suppressed: SuppressFunc | None = None
    tiers: Mapping[str, str] = field(default_factory=dict)
    report_link: str | None = None
    sender: SendFunc = targets_mod.send
    warn_func: Callable[[], pd.DataFrame] | None = None  # early warnings of this round (alerts.early)
    host_diagnose: dict[str, DiagnoseFunc] = field(default_factory=dict)  # engine host name -> its diagnosis

    # ---- the collector's hook
    def on_round(self, ts: Any, states: pd.DataFrame) -> list[int]:
        """Open, remind and close incidents from one round's states; deliver what is due. Never raises."""
        ts = pd.Timestamp(ts)
        try:
            queued = self._update(ts, states)
            if self.warn_func is not None:
                queued += self._warnings(ts, self.warn_func())
        except Exception as exc:  # noqa: BLE001 - alerts never stop the collector
            queued = []
            print(redact.mask_text(f"runbook alerts: round skipped ({type(exc).__name__}: {exc})"), flush=True)
        self.deliver(ts)
        return queued

    def _open(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Open incidents by (host, project, service)."""
        return {(str(r.get("host") or ""), r["project"], r["service"]): r
                for r in self.db.open_incidents().to_dict("records")}

    def _update(self, ts: pd.Timestamp, states: pd.DataFrame) -> list[int]:
        open_inc = self._open()
        current = {} if states is None or states.empty else {
            (str(r.get("host") or ""), str(r.get("project") or ""), str(r["service"])): r
            for r in states.to_dict("records")}
        new: list[dict[str, Any]] = []
        queued: list[int] = []
        for key, rec in sorted(current.items()):
            state = str(rec.get("state") or "unknown")
            if self.suppressed is not None and self.suppressed(key[1], key[2], ts, key[0] or None):
                continue
            if key in open_inc:
                inc = open_inc[key]
                if state == "up":
                    self.db.close_incident(inc["id"], ts)
                    queued += self._queue("recovered", inc["id"], key, "info",
                                          f"RECOVERED {key[2]}", self._body(key, "up", inc["opened_at"], inc), ts)
                elif inc["last_sent_at"] is not None and ts.timestamp() - inc["last_sent_at"] >= self.reminder_s:
                    queued += self._queue("reminder", inc["id"], key, PROBLEM_STATES.get(state, "warning"),
                                          f"STILL {state.upper()} {key[2]}",
                                          self._body(key, state, inc["opened_at"], inc), ts)
            elif state in PROBLEM_STATES:
                new.append({"key": key, "state": state, "since": rec.get("start", ts)})
        if not new:
            return queued
        causes = [c for h in sorted({item["key"][0] for item in new}) for c in self._causes(h)]
        # the whole diagnosis, stored once for this round; each incident it opened references it
        snapshot_id = self.db.add_snapshot(build_snapshot(causes, ts), ts)
        for item in new:
            item["diag"] = {k: v for k, v in (self._cause_of(item["key"], causes) or {}).items()
                            if k not in ("evidence", "host")}  # the evidence lives in the snapshot
            host, project, service = item["key"]
            item["id"] = self.db.open_incident(project, service, item["state"], ts, item["since"],
                                               item["diag"], snapshot_id=snapshot_id, host=host)
        if len(new) >= self.storm_min:
            return queued + self._queue_storm(new, causes, ts)
        for item in new:
            inc = {"root_cause": item["diag"].get("cause"), "fix": item["diag"].get("fix")}
            queued += self._queue("down", item["id"], item["key"], PROBLEM_STATES[item["state"]],
                                  f"{item['state'].upper()} {item['key'][2]}",
                                  self._body(item["key"], item["state"], item["since"], inc), ts)
        return queued

    def _warnings(self, ts: pd.Timestamp, warnings: pd.DataFrame) -> list[int]:
        """One message per (host, service, warning kind), again only after ``reminder_s``; none in maintenance,
        none for a service with an open incident (it is already down: its alert said so)."""
        out: list[int] = []
        rows = [] if warnings is None else warnings.to_dict("records")
        alerted = set(self._open()) if rows else set()
        for w in rows:
            key = (str(w.get("host") or ""), str(w.get("project") or ""), str(w["service"]))
            if key in alerted or (self.suppressed is not None and self.suppressed(key[1], key[2], ts, key[0] or None)):
                continue
            if not self.db.warning_due(f"{key[0] + '/' if key[0] else ''}{key[1]}/{key[2]}/{w['kind']}", ts,
                                       self.reminder_s):
                continue
            body = "\n".join([f"service: {key[2]}", f"project: {key[1] or '-'}", f"host: {self._host(key)}",
                              f"warning: {w['message']}", f"fix: {w['fix']}"])
            out += [self.db.enqueue(t.key, "warning", f"WARNING {key[2]}: {w['kind']}", body, ts)
                    for t in self._matching(key, "warning")]
        return out

    def _causes(self, host: str = "") -> list[dict[str, Any]]:
        """Root causes on one engine host ('' = the default engine), each tagged with its host."""
        func = self.host_diagnose.get(host) if host else self.diagnose
        if func is None:
            return []
        try:
            return [{**c, "host": host} for c in (func() or [])]
        except Exception as exc:  # noqa: BLE001 - a failed diagnosis leaves the message without a cause
            print(redact.mask_text(f"runbook alerts: diagnosis failed{' on ' + host if host else ''} ({exc})"),
                  flush=True)
            return []

    @staticmethod
    def _cause_of(key: tuple[str, str, str], causes: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The root cause of this service, or the one blocking it, found on the same host only."""
        same = [c for c in causes if str(c.get("host") or "") == key[0]]
        for c in same:
            if c["service"] == key[2]:
                return c
        for c in same:
            if key[2] in (c.get("blocks") or []):
                return {"cause": f"blocked by {c['service']} — {c.get('cause')}", "fix": c.get("fix"),
                        "service": c["service"]}
        return None

    def _host(self, key: tuple[str, str, str]) -> str:
        """The engine host name of an incident key; this machine for the single default engine."""
        return key[0] or self.host

    def _when(self, value: Any) -> str:
        try:
            t = pd.Timestamp(value, unit="s", tz="UTC") if isinstance(value, (int, float)) else pd.Timestamp(value)
            t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
            return t.isoformat(timespec="seconds")
        except (ValueError, TypeError):
            return str(value)

    def _body(self, key: tuple[str, str, str], state: str, since: Any, inc: Mapping[str, Any]) -> str:
        lines = [f"service: {key[2]}", f"project: {key[1] or '-'}", f"host: {self._host(key)}", f"state: {state}",
                 f"since: {self._when(since)}"]
        if inc.get("root_cause"):
            lines.append(f"root cause: {inc['root_cause']}")
        if inc.get("fix"):
            lines.append(f"fix: {inc['fix']}")
        if self.report_link:
            lines.append(f"report: {self.report_link}")
        return "\n".join(lines)

    def _queue_storm(self, new: list[dict[str, Any]], causes: list[dict[str, Any]], ts: pd.Timestamp) -> list[int]:
        hosts = sorted({item["key"][0] for item in new})
        many = len(hosts) > 1  # several engine hosts: every service is named "host · service"

        def name(host: str, service: str) -> str:
            return f"{host or self.host} · {service}" if many else service
        failing = {(item["key"][0], item["key"][2]) for item in new}
        roots = [c for c in causes if (c["host"], c["service"]) in failing
                 or {(c["host"], s) for s in (c.get("blocks") or [])} & failing]
        blocked = {(c["host"], s) for c in roots for s in (c.get("blocks") or [])} & failing
        where = ", ".join(h or self.host for h in hosts)
        lines = [f"{len(new)} services failed together on {'hosts ' if many else ''}{where}."]
        for c in roots:
            lines.append(f"root cause {name(c['host'], c['service'])} — {c.get('cause')} (fix: {c.get('fix')})")
        if not roots:
            lines.append("root causes: not diagnosed; services: " + ", ".join(name(*f) for f in sorted(failing)[:20]))
        lines.append(f"{len(blocked)} service(s) are only blocked by these root causes.")
        if self.report_link:
            lines.append(f"report: {self.report_link}")
        projects = {item["key"][1] for item in new}
        key = ("", projects.pop() if len(projects) == 1 else "", "")
        out: list[int] = []
        matching = {t.key: t for h in hosts for t in self._matching((h, *key[1:]), "critical")}  # any host's
        for t in matching.values():
            out.append(self.db.enqueue(t.key, "storm", f"STORM: {len(new)} services down", "\n".join(lines), ts,
                                       ",".join(item["id"] for item in new)[:2000]))
        for item in new:
            self.db.mark_sent(item["id"], ts)
        return out

    def _matching(self, key: tuple[str, str, str], severity: str) -> list[Target]:
        tier = self.tiers.get(key[2])
        return [t for t in self.targets if t.matches(project=key[1] or None, host=self._host(key), tier=tier,
                                                     severity=severity)]

    def _queue(self, kind: str, iid: str, key: tuple[str, str, str], severity: str, title: str, body: str,
               ts: pd.Timestamp) -> list[int]:
        out = [self.db.enqueue(t.key, kind, title, body, ts, iid) for t in self._matching(key, severity)]
        if kind != "recovered":
            self.db.mark_sent(iid, ts)
        return out

    # ---- delivery
    def deliver(self, ts: Any = None) -> int:
        """Send what is due (at most ``max_per_round`` per target); returns how many were sent."""
        ts = pd.Timestamp(ts) if ts is not None else pd.Timestamp.now(tz="UTC")
        sent = 0
        for t in self.targets:
            for msg in self.db.due(ts, t.key, self.max_per_round):
                ok, err = self.sender(t, msg["title"], msg["body"])
                self.db.record(msg["id"], ts, ok, err, msg["attempts"] + 1)
                sent += int(ok)
                if not ok:
                    break  # the receiver is down: the rest waits for the backoff, no burst of retries
        return sent

    def test(self) -> list[tuple[str, bool, str | None]]:
        """Send one test message to every target now; (shown URL, ok, error) each."""
        return [(t.shown, *self.sender(t, "runbook test message",
                                        f"runbook on {self.host} can reach this channel.")) for t in self.targets]


def notifier_from_config(cli_urls: Iterable[str] | None = None, config: Any = None, *,
                         store_path: str | os.PathLike | None = None, db_path: str | os.PathLike | None = None,
                         environ: Mapping[str, str] | None = None, **kwargs: Any) -> Notifier | None:
    """A Notifier for the configured targets, or None when no URL is configured."""
    env = os.environ if environ is None else environ
    found = targets_mod.resolve_targets(cli_urls, env, getattr(config, "notify", None) or [],
                                        source=getattr(config, "path", None) or "runbook.yaml")
    if not found:
        return None
    if config is not None and getattr(config, "tiers", None):
        kwargs.setdefault("tiers", dict(config.tiers))
    alerts = getattr(config, "alerts", None) or {}  # runbook.yaml alerts: (validated by config.py)
    if "storm_threshold" in alerts:
        kwargs.setdefault("storm_min", int(alerts["storm_threshold"]))
    if "reminder_interval_s" in alerts:
        kwargs.setdefault("reminder_s", float(alerts["reminder_interval_s"]))
    if "max_per_round" in alerts:
        kwargs.setdefault("max_per_round", int(alerts["max_per_round"]))
    return Notifier(targets=found, db=AlertsDB(db_path or default_path(store_path)), **kwargs)


def current_states(intervals: pd.DataFrame) -> pd.DataFrame:
    """The latest effective state per service from a store's interval frame (project, service, state, start),
    per engine host when the frame has a ``host`` column ('' = the single default engine)."""
    keys = ["host", "project", "service"] if intervals is not None and "host" in intervals.columns \
        else ["project", "service"]
    if intervals is None or intervals.empty:
        return pd.DataFrame(columns=[*keys, "state", "start"])
    df = intervals.copy()
    if "host" in keys:
        df["host"] = df["host"].fillna("").astype(str)
    df = df.sort_values("start").groupby(keys, as_index=False).tail(1)
    return df[[*keys, "state", "start"]].reset_index(drop=True)


def diagnose_func(engine_url: str | None = None, *, project: str | None = None,
                  compose_files: Iterable[str] = (), config: Any = None,
                  engine_timeout_s: float = 5.0, connect: Callable[[], Any] | None = None) -> DiagnoseFunc:
    """A diagnosis run only when an incident opens: gather the stack, return its root causes.

    ``connect``: makes the engine client (a named host with its TLS settings) instead of ``engine_url``."""
    def run() -> list[dict[str, Any]]:
        found = gather(engine_url, project=project, compose_files=list(compose_files), config=config,
                       engine_timeout_s=engine_timeout_s, client=connect() if connect is not None else None)
        try:
            findings = run_diagnosis(found, tail_lines=100).findings
            evidence: dict[str, list[str]] = {}
            for r in findings.to_dict("records"):
                if r.get("root_cause"):  # every line of every root-cause finding (the snapshot caps the size)
                    lines = evidence.setdefault(str(r["service"]), [])
                    lines += [str(x) for x in (r.get("evidence") or []) if str(x) not in lines]
            # the snapshot keeps the evidence: logs and containers may be gone by the postmortem
            return [{**c, "evidence": evidence.get(c["service"], [])} for c in root_cause_summary(findings)]
        finally:
            if found.client is not None:
                found.client.close()
    return run
