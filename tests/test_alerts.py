"""Alerts through apprise to real receivers on 127.0.0.1: a JSON webhook and an SMTP server."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from runbook_lib import redact
from runbook_lib.alerts import Notifier, resolve_targets
from runbook_lib.alerts.outbox import AlertsDB, backoff_s
from runbook_lib.alerts.targets import Target, escape_for
from runbook_lib.exceptions import ConfigError
from servers import free_port

CANARY = "canary-Secr3t-9f8e7d6c5b4a"
T0 = pd.Timestamp("2026-01-01T00:00:00Z")


class Webhook:
    """A JSON webhook receiver in a thread; ``fail`` makes it answer 500."""

    def __init__(self, port: int | None = None) -> None:
        self.received: list[dict] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server hook
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.fail:
                    self.send_response(500)
                else:
                    outer.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.port = port or free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.stop()


def states(rows: list[tuple[str, str]], project: str = "shop") -> pd.DataFrame:
    return pd.DataFrame([{"project": project, "service": s, "state": st, "start": T0} for s, st in rows])


def make(tmp_path, urls, **kw) -> Notifier:
    return Notifier(targets=resolve_targets(urls, {}), db=AlertsDB(tmp_path / "alerts.sqlite"), host="test-host",
                    **kw)


def t(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def test_one_message_per_incident_then_recovered(tmp_path, hook):
    n = make(tmp_path, [hook.url])
    n.on_round(t(0), states([("api", "up"), ("db", "up")]))
    assert hook.received == []
    n.on_round(t(1), states([("api", "down"), ("db", "up")]))
    n.on_round(t(2), states([("api", "down"), ("db", "up")]))  # same incident: no second message
    assert len(hook.received) == 1
    msg = hook.received[0]
    assert "api" in msg["title"] and "DOWN" in msg["title"]
    for part in ("service: api", "host: test-host", "state: down", "since: 2026-01-01T00:00:00"):
        assert part in msg["message"]
    n.on_round(t(3), states([("api", "up"), ("db", "up")]))
    assert len(hook.received) == 2 and "RECOVERED" in hook.received[1]["title"]
    inc = n.db.incidents()
    assert len(inc) == 1 and inc["closed_at"].notna().all()


def test_root_cause_of_a_service_named_like_a_secret_key_is_not_masked(tmp_path, hook):
    """The demo's ``auth`` service: "root cause auth: the module …" read as a secret (auth: VALUE)."""
    causes = [{"service": "auth", "cause": "the module `@opentelemetry/api` is not installed", "fix": "add it",
               "blocks": ["api"]}, {"service": "token", "cause": "OOMKilled", "fix": "raise the limit", "blocks": []}]
    n = make(tmp_path, [hook.url], diagnose=lambda: causes, storm_min=3)
    n.on_round(t(0), states([("auth", "down"), ("api", "down"), ("token", "down")]))
    body = hook.received[0]["message"]
    assert "the module `@opentelemetry/api` is not installed" in body and "OOMKilled" in body, body
    assert redact.MASK not in body
    n2 = make(tmp_path / "one", [hook.url], diagnose=lambda: causes)
    n2.on_round(t(0), states([("api", "down")]))
    assert "blocked by auth — the module `@opentelemetry/api`" in hook.received[-1]["message"]


def test_reminder_at_interval_while_open(tmp_path, hook):
    n = make(tmp_path, [hook.url], reminder_s=600)
    n.on_round(t(0), states([("api", "stopped")]))
    n.on_round(t(5), states([("api", "stopped")]))
    assert len(hook.received) == 1
    n.on_round(t(11), states([("api", "stopped")]))
    assert len(hook.received) == 2 and "STILL" in hook.received[1]["title"]


def test_storm_grouped_into_one_message(tmp_path, hook):
    causes = [{"service": "db", "cause": "postgres: password authentication failed", "fix": "set POSTGRES_PASSWORD",
               "blocks": [f"svc{i}" for i in range(29)]}]
    n = make(tmp_path, [hook.url], diagnose=lambda: causes)
    n.on_round(t(0), states([("db", "down")] + [(f"svc{i}", "down") for i in range(29)]))
    assert len(hook.received) == 1
    body = hook.received[0]["message"]
    assert "30 services" in body and "root cause db" in body and "set POSTGRES_PASSWORD" in body
    assert "29 service(s) are only blocked" in body
    assert len(n.db.open_incidents()) == 30
    n.on_round(t(1), states([("db", "down")] + [(f"svc{i}", "down") for i in range(29)]))
    assert len(hook.received) == 1


def test_retry_after_receiver_down_then_up(tmp_path, hook):
    n = make(tmp_path, [hook.url])
    hook.fail = True
    n.on_round(t(0), states([("api", "down"), ("web", "down")]))
    out = n.db.messages()
    assert len(out) == 2 and (out["status"] == "pending").all()
    assert out["attempts"].tolist() == [1, 0]  # the first failure holds the rest back: no burst
    assert "refused" in out["last_error"].iloc[0]
    hook.fail = False
    n.on_round(t(0.1), states([("api", "down"), ("web", "down")]))  # before the backoff: nothing sent
    assert hook.received == []
    n.on_round(T0 + pd.Timedelta(seconds=backoff_s(1) + 1), states([("api", "down"), ("web", "down")]))
    assert len(hook.received) == 2
    assert (n.db.messages()["status"] == "sent").all()


def test_canary_masked_and_xss_inert(tmp_path, hook):
    redact.learn(CANARY)
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    causes = [{"service": "api", "cause": f"{payload} DB_PASSWORD={CANARY}", "fix": f"token {CANARY}", "blocks": []}]
    n = make(tmp_path, [hook.url], diagnose=lambda: causes)
    n.on_round(t(0), states([("api", "down")]))
    raw = json.dumps(hook.received)
    assert CANARY not in raw
    assert "<script>" not in raw and "<img" not in raw and "&lt;script&gt;" in raw
    assert CANARY not in (tmp_path / "alerts.sqlite").read_bytes().decode("latin-1")


def test_filters_and_severity(tmp_path, hook):
    other = Webhook()
    try:
        targets = resolve_targets([], {}, [{"url": hook.url, "project": "shop"},
                                           {"url": other.url, "min_severity": "critical"}])
        n = Notifier(targets=targets, db=AlertsDB(tmp_path / "a.sqlite"), host="h")
        n.on_round(t(0), states([("api", "degraded")], project="blog"))
        assert hook.received == [] and other.received == []  # wrong project; below critical
        n.on_round(t(0), states([("api", "down")], project="shop"))
        assert len(hook.received) == 1 and len(other.received) == 1
    finally:
        other.stop()


def test_suppressed_during_maintenance(tmp_path, hook):
    n = make(tmp_path, [hook.url], suppressed=lambda project, service, ts, host: service == "api")
    n.on_round(t(0), states([("api", "down"), ("web", "down")]))
    assert len(hook.received) == 1 and "web" in hook.received[0]["title"]


def test_bad_url_and_config_rejected():
    with pytest.raises(ConfigError, match="apprise"):
        resolve_targets(["nosuchscheme://x"], {})
    with pytest.raises(ConfigError, match="min_severity"):
        resolve_targets([], {}, [{"url": "json://127.0.0.1:1/", "min_severity": "loud"}])
    assert len(resolve_targets(["json://127.0.0.1:1/"], {"RUNBOOK_NOTIFY": "json://127.0.0.1:1/, json://127.0.0.1:2/"})) == 2


def test_markdown_channels_escaped():
    assert escape_for(Target("discord://a/b"), "*bold* <b>") == r"\*bold\* &lt;b&gt;"


def test_email_through_smtp(tmp_path):
    got: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
            got.append(envelope.content)
            return "250 OK"

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        url = f"mailto://127.0.0.1:{port}?from=runbook@example.org&to=oncall@example.org&mode=insecure"
        n = make(tmp_path, [url])
        n.on_round(t(0), states([("api", "down")]))
        assert len(got) == 1
        text = got[0].decode("utf-8", "replace")
        assert "api" in text and "state: down" in text
        assert [r[1] for r in n.test()] == [True]
    finally:
        ctl.stop()


@pytest.mark.docker
def test_collector_round_notifies_on_real_container(tmp_path, hook, docker_client, containers, test_label):
    from runbook_lib.history.collector import collect_round
    from runbook_lib.history.debounce import Thresholds
    from runbook_lib.history.store import open_store

    c = containers(["sleep", "300"], name="alert-svc", labels={"com.docker.compose.project": "alertp",
                                                              "com.docker.compose.service": "svc"})
    store = open_store(tmp_path / "h.sqlite", thresholds=Thresholds(2, 2, 0.0))
    n = make(tmp_path, [hook.url])
    try:
        def rnd(minutes: float):
            collect_round(store, client=docker_client, label=test_label, probes=False, interval_s=60,
                          ts=t(minutes), notifier=n)
        rnd(0)
        c.stop(timeout=1)
        rnd(1)
        rnd(2)
        assert [m["title"] for m in hook.received] == ["DOWN svc"]
        c.start()
        rnd(3)
        rnd(4)
        rnd(5)
        assert [m["title"] for m in hook.received] == ["DOWN svc", "RECOVERED svc"]
        assert "project: alertp" in hook.received[0]["message"]
    finally:
        store.close()


def _oom_risk_notifier(tmp_path, hook) -> Notifier:
    """A notifier whose early warnings see api at 95-97 % of its memory limit (OOM risk)."""
    from runbook_lib.analysis.warnings import oom_risk
    hist = pd.DataFrame([{"service": "api", "project": "shop", "container": "c1", "mem_pct": 95.0 + i,
                          "mem_bytes": 95 * 2**20, "mem_limit_bytes": 100 * 2**20, "read_at": t(i)} for i in range(3)])
    return make(tmp_path, [hook.url], reminder_s=600, warn_func=lambda: oom_risk(hist))


def test_early_warnings_notified_once_per_interval(tmp_path, hook):
    n = _oom_risk_notifier(tmp_path, hook)
    n.on_round(t(0), states([("api", "up")]))
    n.on_round(t(1), states([("api", "up")]))
    assert [m["title"] for m in hook.received] == ["WARNING api: oom_risk"]
    assert "OOM kill is near" in hook.received[0]["message"]
    n.on_round(t(11), states([("api", "up")]))
    assert len(hook.received) == 2


def test_no_early_warning_for_a_service_already_down(tmp_path, hook):
    """The demo's crash-looping workflow: named in the storm (or its DOWN message), not warned about again."""
    n = _oom_risk_notifier(tmp_path, hook)
    n.on_round(t(0), states([("api", "down")]))
    n.on_round(t(1), states([("api", "down")]))
    assert [m["title"] for m in hook.received] == ["DOWN api"]
    n.on_round(t(2), states([("api", "up")]))  # recovered, and still near its limit: now it is a warning
    assert [m["title"] for m in hook.received] == ["DOWN api", "RECOVERED api", "WARNING api: oom_risk"]


@pytest.mark.docker
def test_warning_source_reads_real_engine(docker_client, containers, test_label):
    from runbook_lib.alerts.early import WarningSource
    containers(["sleep", "300"], name="warn-src", labels={"com.docker.compose.project": "warnp",
                                                         "com.docker.compose.service": "w"})
    src = WarningSource(project="warnp")
    first, second = src(), src()
    assert first.empty and second.empty  # healthy, far from its limit
    assert len(src.stats_history) == 2 and src.stats_history[-1]["error"].isna().all()


def test_runbook_yaml_sets_storm_threshold_and_reminder(tmp_path, hook):
    from runbook_lib.alerts import notifier_from_config
    from runbook_lib.config import load_config
    cfg = tmp_path / "runbook.yaml"
    cfg.write_text("alerts: {storm_threshold: 3, reminder_interval: 10m, max_per_round: 4}\n")
    n = notifier_from_config([hook.url], load_config(cfg), db_path=tmp_path / "alerts.sqlite", host="test-host")
    assert (n.storm_min, n.reminder_s, n.max_per_round) == (3, 600.0, 4)
    n.on_round(t(0), states([("a", "down"), ("b", "down"), ("c", "down")]))  # 3 = the storm threshold
    assert len(hook.received) == 1 and "STORM" in hook.received[0]["title"]
    n.on_round(t(9), states([("a", "down"), ("b", "up"), ("c", "up")]))
    assert [m["title"] for m in hook.received[1:]] == ["RECOVERED b", "RECOVERED c"]
    n.on_round(t(11), states([("a", "down"), ("b", "up"), ("c", "up")]))  # 10 min reminder
    assert "STILL DOWN a" in hook.received[-1]["title"]


@pytest.mark.parametrize("body, words", [
    ("alerts: {storm_threshold: 1}", "alerts.storm_threshold must be a whole number of at least 2"),
    ("alerts: {storm_threshold: many}", "alerts.storm_threshold"),
    ("alerts: {reminder_interval: soon}", "alerts.reminder_interval must be a duration"),
    ("alerts: {reminder_interval: 5s}", "at least 1 minute"),
    ("alerts: {storm: 5}", "unknown key 'alerts.storm'"),
    ("alerts: [5]", "'alerts' must be a mapping"),
])
def test_bad_alerts_config_refused_exit_2(tmp_path, capsys, body, words):
    from runbook_lib.cli import main
    cfg = tmp_path / "runbook.yaml"
    cfg.write_text(body + "\n")
    with pytest.raises(ConfigError, match="alerts"):
        from runbook_lib.config import load_config
        load_config(cfg)
    assert main(["notify", "test", "--config", str(cfg), "--notify", "json://127.0.0.1:1/"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_stopped_healthy_service_is_not_diagnosed_as_a_slow_start():
    """The demo's master-data, healthy for 5 minutes then `docker stop`ped: its health log (the last 5
    probes, all passing, minutes after the start) says nothing about its start-up time."""
    from runbook_lib.analysis.classify import classify
    started = pd.Timestamp("2026-11-29T07:55:12Z")
    log = [{"start": str(started + pd.Timedelta(seconds=310 + 2 * i)), "exit_code": 0, "output": ""} for i in range(5)]
    catalog = pd.DataFrame([{"service": "master-data", "ports": [],
                             "healthcheck": {"test": ["CMD-SHELL", "true"], "start_period_s": 1.0}}])
    df = classify([{"service": "master-data", "state": "exited", "health": "none", "exit_code": 143,
                    "started_at": started, "health_log": log, "log_lines": []}], catalog=catalog)
    assert "slow-startup" not in set(df["category"]), df[["category", "cause"]]
