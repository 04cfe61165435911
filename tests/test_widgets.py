"""The investigation panel's callbacks as plain functions, on a real engine; the papermill static path."""
from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from runbook_lib.stack import gather
from runbook_lib.view import panel_html, widgets
from runbook_lib.view.panel import STATIC_REFUSAL, Panel, ServiceView
from runbook_lib.redact import MASK

XSS_LABEL = '<script>alert(1)</script>'
XSS_LINE = '"><img src=x onerror=alert(1)>'
CANARY = "Canary-Widget-7f3a91"


# -- pure -----------------------------------------------------------------------------

def test_detect_interactive_rule():
    assert widgets.detect_interactive(True) is True
    assert widgets.detect_interactive(False, {"JPY_SESSION_NAME": "x.ipynb"}) is False
    assert widgets.detect_interactive(None, {}) is False  # papermill / nbconvert / python
    # a Jupyter session variable without a kernel (plain python) is still not interactive
    assert widgets.detect_interactive(None, {"JPY_SESSION_NAME": "investigate.ipynb"}) is False


def test_highlight_log_escapes_and_marks():
    lines = ["starting", "Error: connect ECONNREFUSED 127.0.0.1:5432", XSS_LINE + XSS_LABEL]
    matches = [{"line_no": 1, "severity": "high", "title": "Calls <b>localhost</b>", "fix": "use the service name",
                "cause": "", "line": lines[1]}]
    out = panel_html.highlight_log(lines, matches)
    assert '<mark class="rb-sig rb-sev-high" title="Calls &lt;b&gt;localhost&lt;/b&gt; (high): use the service name">' \
           "Error: connect ECONNREFUSED 127.0.0.1:5432</mark>" in out
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_service_html_is_inert():
    view = ServiceView(project="p", service=XSS_LABEL, container=XSS_LINE, state="running",
                               health="unhealthy", health_log=[{"start": "t", "exit_code": 1, "output": XSS_LINE}],
                               log_lines=[XSS_LABEL, XSS_LINE], blocked_by=[XSS_LABEL], blocks=[])
    out = panel_html.service_html(view)
    assert "<script>alert" not in out and "<img src" not in out
    assert out.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert "Blocked by" in out and "nothing to do" in out


def test_panel_without_engine_is_degraded_and_never_acts(tmp_path):
    panel = Panel(gather(f"unix://{tmp_path}/no-docker.sock"), interactive=True)
    table = panel.refresh()
    assert len(table) == 0
    s = panel.summary()
    assert s["status"] == "degraded" and "engine unreachable" in s["degraded_reasons"][0]
    assert panel.arm() == "choose a service first"
    assert not panel.confirm("anything").ok


def test_static_panel_refuses_to_act():
    panel = Panel(gather(use_engine=False, load_compose=False), interactive=False)
    panel.refresh()
    assert panel.arm() == STATIC_REFUSAL
    result = panel.confirm("web")
    assert not result.ok and result.log is None and "never acts" in result.message


# -- on a real engine -----------------------------------------------------------------

WEB_SCRIPT = (
    "echo web-boot-line-1; "
    f"echo 'Error: connect ECONNREFUSED 127.0.0.1:5432'; "
    f"echo '{XSS_LINE}'; echo 'DB_PASSWORD={CANARY}'; "
    "echo web-ready-marker; exec sleep 600"
)


def _compose_file(tmp_path: Path, project: str) -> Path:
    f = tmp_path / "docker-compose.yml"
    f.write_text(textwrap.dedent(f"""\
        name: {project}
        services:
          db:
            image: busybox
            healthcheck:
              test: ["CMD", "true"]
              interval: 1s
              retries: 3
          web:
            image: busybox
            depends_on:
              db:
                condition: service_healthy
            healthcheck:
              test: ["CMD", "true"]
              interval: 1s
              retries: 3
        """))
    return f


@pytest.fixture
def stack(containers, docker_client, test_label, tmp_path):
    """A two-service compose-labelled stack: db exited (root cause), web running with a noisy log."""
    project = "rbt-" + test_label.split("=", 1)[1] + "-inv"
    hc = {"test": ["CMD", "true"], "interval": 1_000_000_000, "timeout": 1_000_000_000, "retries": 3}

    def labels(service: str, extra: dict | None = None) -> dict:
        return {"com.docker.compose.project": project, "com.docker.compose.service": service, **(extra or {})}

    db = containers(["sh", "-c", "echo db-boot; exit 3"], name="inv-db",
                    labels=labels("db"), healthcheck=hc)
    web = containers(["sh", "-c", WEB_SCRIPT], name="inv-web",
                     labels=labels("web", {"note": XSS_LABEL}), healthcheck=hc,
                     environment={"DB_PASSWORD": CANARY})

    def ready():
        db.reload()
        web.reload()
        logs = web.logs().decode()
        return db.status == "exited" and "web-ready-marker" in logs and \
            web.attrs["State"].get("Health", {}).get("Status") == "healthy"
    import dockerenv
    dockerenv.wait_for(ready, timeout_s=60)
    return {"project": project, "db": db, "web": web, "compose": _compose_file(tmp_path, project)}


def _started_at(c) -> str:
    c.reload()
    return c.attrs["State"]["StartedAt"]


@pytest.mark.docker
def test_panel_shows_service_logs_signatures_and_blocked_by(docker_client, stack, tmp_path):
    panel = Panel(gather(client=docker_client, project=stack["project"], compose_files=[str(stack["compose"])]),
                          store_path=str(tmp_path / "none.sqlite"), interactive=True)
    table = panel.refresh()
    assert set(table["service"]) == {"db", "web"}
    assert table.iloc[0]["service"] == "db"  # worst first
    assert stack["project"] in panel.projects()
    assert panel.select_project(stack["project"]) == ["db", "web"]
    view = panel.select_service("web")
    assert "web-boot-line-1" in view.log_lines and "web-ready-marker" in view.log_lines
    assert any(CANARY in ln for ln in view.log_lines) is False
    assert any(MASK in ln for ln in view.log_lines)
    assert [m["line_no"] for m in view.matches] == [view.log_lines.index("Error: connect ECONNREFUSED 127.0.0.1:5432")]
    assert view.blocked_by == ["db"] and view.blocks == []
    assert view.health == "healthy" and view.health_log
    assert any("no probe history" in n for n in view.notes)
    assert view.labels["note"] == XSS_LABEL
    html = panel_html.service_html(view)
    assert "web-ready-marker" in html and "<img src=x" not in html and CANARY not in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    db_view = panel.select_service("db")
    assert db_view.blocks == ["web"] and db_view.exit_code == 3
    assert list(db_view.plan["action"]) == ["start", "wait"] and db_view.action == "start"
    assert "db-boot" in db_view.log_lines


@pytest.mark.docker
def test_restart_needs_two_steps_and_goes_through_apply_plan(docker_client, stack, tmp_path):
    audit = tmp_path / "audit.log"
    panel = Panel(gather(client=docker_client, project=stack["project"], compose_files=[str(stack["compose"])]),
                          store_path=str(tmp_path / "none.sqlite"), audit_path=str(audit), interactive=True)
    panel.refresh()
    before = _started_at(stack["web"])
    view = panel.select_service("web")
    assert view.action == "restart" and list(view.plan["action"]) == ["restart", "wait"]
    # confirm without arming, or with the wrong name: nothing happens
    assert not panel.confirm("web").ok
    assert "Restart" in panel.confirm("web").message or "first" in panel.confirm("web").message
    assert "type its name" in panel.arm()
    wrong = panel.confirm("Web")
    assert not wrong.ok and "nothing was done" in wrong.message
    assert panel.armed == "web"  # still waiting for the right name
    # choosing another service disarms
    panel.select_service("db")
    assert panel.armed is None and not panel.confirm("web").ok
    assert _started_at(stack["web"]) == before
    assert not audit.exists()
    # the real thing
    panel.select_service("web")
    panel.arm()
    messages: list[str] = []
    result = panel.confirm("web", progress=messages.append)
    assert result.ok, result.message
    assert list(result.log["outcome"]) == ["ok", "ok"]
    assert _started_at(stack["web"]) != before
    assert any("wait for web" in m for m in messages)
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    restart = [r for r in records if r["action"] == "restart"]
    assert [r["phase"] for r in restart] == ["started", "outcome"]
    assert restart[0]["dry_run"] is False
    assert panel.armed is None and not panel.confirm("web").ok  # one confirmation, one run


@pytest.mark.docker
def test_static_rendering_never_acts(docker_client, stack, tmp_path):
    panel = Panel(gather(client=docker_client, project=stack["project"], compose_files=[str(stack["compose"])]),
                          store_path=str(tmp_path / "none.sqlite"), interactive=False)
    panel.refresh()
    assert panel.static_services() == ["db"]
    before = _started_at(stack["db"])
    panel.select_service("db")
    assert panel.arm() == STATIC_REFUSAL and not panel.confirm("db").ok
    time.sleep(0.1)
    assert _started_at(stack["db"]) == before


@pytest.mark.docker
@pytest.mark.slow
def test_papermill_renders_static_tables_and_figures(docker_client, stack, tmp_path):
    from runbook_lib.reports import runner as report
    out_dir = tmp_path / "outputs"
    before = _started_at(stack["db"]), _started_at(stack["web"])
    result = report.run_report("investigate", {"project": stack["project"], "service": "web",
                                               "compose_files": [str(stack["compose"])],
                                               "store_path": str(tmp_path / "none.sqlite"),
                                               "audit_log": str(tmp_path / "audit.log")},
                               output_dir=out_dir, progress=False, cwd=tmp_path)
    assert result.status == "ok", result.error
    html = result.html.read_text()
    nb = result.ipynb.read_text()
    assert "web-ready-marker" in html and "rb-sig" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert CANARY not in html and CANARY not in nb and CANARY not in result.json.read_text()
    assert "application/vnd.jupyter.widget-view+json" not in nb  # no dead widgets
    assert "Probe and uptime history" in html
    summary = json.loads(result.json.read_text())
    assert summary["project"] == stack["project"] and summary["interactive"] is False
    assert (_started_at(stack["db"]), _started_at(stack["web"])) == before
    assert not (tmp_path / "audit.log").exists()


def test_progress_tracker_counts_steps_and_wait_time():
    now = [100.0]
    t = widgets.ProgressTracker(2, clock=lambda: now[0])
    assert t.fraction() == 0.0
    t.update("[wave 1] restart web (rbt-web) …")
    t.update("[wave 1] restart web: ok (restart accepted, 0.2 s)")
    assert t.fraction() == 0.5 and t.text() == "step 1 of 2"
    t.update("[wave 1] wait for web to be healthy (up to 40 s) …")
    now[0] += 10
    assert t.text() == "waiting for web to be healthy: 10 s of up to 40 s"
    assert 0.5 < t.fraction() < 0.7
    t.update("[wave 1] wait web: ok (healthy, 12.0 s)")
    assert t.fraction() == 1.0 and t.waiting is None
