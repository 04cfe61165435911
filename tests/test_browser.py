"""Real-browser tests: Debian's chromium driven by Playwright (no browser download).

(a) JupyterLab, started here on 127.0.0.1 with a token, runs investigate.ipynb; a service is
    chosen in the dropdown and the panel shows its log lines (screenshot in test-artifacts/).
(b) Every report kind, produced by the runner, opened from file:// with the network blocked:
    every plotly figure draws, no console error, no request leaves the page, and an XSS
    payload in a container label and a log line does not execute.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dockerenv

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS_LABEL = "<script>alert(1)</script>"
XSS_IN_LABEL = '<script>alert("label")</script>"><img src=x onerror=alert(2)>'
XSS_LINE = '"><img src=x onerror=alert(1)>'
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if dockerenv.in_ci():
            pytest.fail("Debian's chromium is required in CI: apt-get install chromium")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class PageWatch:
    """Console errors, page errors, dialogs and every request that tried to leave."""

    def __init__(self, page, allow_host: str | None = None) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.blocked: list[str] = []
        self.allow_host = allow_host
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)

    def _dialog(self, d) -> None:
        self.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES) or (self.allow_host and url.startswith(self.allow_host)):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


# -- a small labelled stack -------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(docker_client, busybox_image, test_label, tmp_path_factory):
    """web (running, healthy, noisy log with an XSS line) and db (exited) in one compose project."""
    key, val = test_label.split("=", 1)
    project = f"rbt-{val}-br"
    tmp = tmp_path_factory.mktemp("browser-stack")
    compose = tmp / "docker-compose.yml"
    compose.write_text(f"name: {project}\nservices:\n  db:\n    image: busybox\n"
                       "  web:\n    image: busybox\n    depends_on: [db]\n"
                       "    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 1s\n")
    hc = {"test": ["CMD", "true"], "interval": 1_000_000_000, "timeout": 1_000_000_000, "retries": 3}
    made = []
    try:
        def run(service, cmd, **kw):
            c = docker_client.containers.run(
                busybox_image, ["sh", "-c", cmd], detach=True, name=f"rbt-{val}-br-{service}",
                labels={key: val, "com.docker.compose.project": project, "com.docker.compose.service": service,
                        "note": XSS_IN_LABEL}, **kw)
            made.append(c)
            return c
        run("db", "echo db-boot; exit 3")
        web = run("web", "echo browser-log-line-1; echo 'Error: connect ECONNREFUSED 127.0.0.1:5432'; "
                         f"echo '{XSS_LINE}'; echo '{XSS_LABEL}'; echo browser-ready-marker; exec sleep 900",
                  healthcheck=hc)

        def ready():
            web.reload()
            return web.attrs["State"].get("Health", {}).get("Status") == "healthy" and \
                b"browser-ready-marker" in web.logs()
        dockerenv.wait_for(ready, timeout_s=60)
        yield {"project": project, "compose": compose, "tmp": tmp}
    finally:
        for c in made:
            try:
                c.remove(force=True)
            except Exception:  # noqa: BLE001
                pass


# -- (b) reports from file:// ---------------------------------------------------------------

def _report_kinds() -> list[str]:
    return sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))


def _params_for(kind: str, stack: dict) -> dict:
    from runbook_lib.reports import params, runner as report
    declared = params.declared_parameters(report.notebook_path(kind))
    want = {"project": stack["project"], "compose_files": [str(stack["compose"])],
            "store_path": str(stack["tmp"] / "store.sqlite"), "audit_log": str(stack["tmp"] / "audit.log"),
            "service": "web", "run_probes": False}
    return {k: v for k, v in want.items() if k in declared}


@pytest.fixture(scope="module")
def reports(stack, tmp_path_factory):
    """Every report kind, run by the runner: once self-contained, once with the shared plotly.js."""
    from runbook_lib.reports import runner as report
    kinds = _report_kinds()
    import pandas as pd
    from runbook_lib.alerts.outbox import AlertsDB  # an incident for the postmortem, XSS in its root cause
    db = AlertsDB(stack["tmp"] / "alerts.sqlite")
    db.open_incident(stack["project"], "db", "down", pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=1),
                     diagnosis={"cause": XSS_LINE, "fix": XSS_LABEL})
    db.close()
    out: dict[str, list] = {"embedded": [], "shared": [], "kinds": kinds}
    for mode in ("embedded", "shared"):
        out_dir = tmp_path_factory.mktemp(f"outputs-{mode}")
        for kind in kinds:
            res = report.run_report(kind, _params_for(kind, stack), output_dir=out_dir, progress=False,
                                    shared_plotly=(mode == "shared"), cwd=stack["tmp"])
            out[mode].append(res)
        out[mode + "_dir"] = out_dir
    return out


def _expected_figures(ipynb: Path) -> int:
    import nbformat
    nb = nbformat.read(str(ipynb), as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "application/vnd.plotly.v1+json" in (o.get("data") or {}))


def _open_offline(browser, path: Path):
    page = browser.new_page()
    watch = PageWatch(page)
    page.goto(path.as_uri(), wait_until="load")
    return page, watch


def _drawn_plots(page, expected: int) -> int:
    js = "() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.querySelector('.main-svg')).length"
    if expected:
        try:
            page.wait_for_function(f"() => ({js})() >= {expected}", timeout=30_000)
        except Exception:  # noqa: BLE001 - fall through to the count assertion
            pass
    return page.evaluate(js)


@pytest.mark.parametrize("mode", ["embedded", "shared"])
def test_every_report_reads_offline_and_is_inert(browser, reports, mode, stack):
    assert {r.kind for r in reports[mode]} == set(reports["kinds"]) and "investigate" in reports["kinds"]
    for res in reports[mode]:
        expected = _expected_figures(res.ipynb)
        page, watch = _open_offline(browser, res.html)
        try:
            drawn = _drawn_plots(page, expected)
            assert drawn == expected, f"{res.kind}: {drawn} of {expected} figures drew"
            print(f"{mode} {res.kind}: status {res.status}, {drawn} figures drawn, {res.html.stat().st_size} bytes")
            page.wait_for_timeout(300)  # let any late error or dialog surface
            assert watch.errors == [], f"{res.kind}: console errors {watch.errors}"
            assert watch.blocked == [], f"{res.kind}: requests tried to leave {watch.blocked}"
            assert watch.dialogs == [], f"{res.kind}: XSS executed {watch.dialogs}"
            assert page.locator('img[src="x"]').count() == 0, f"{res.kind}: injected <img> in the DOM"
            if res.kind == "postmortem":
                text = page.inner_text("body")
                assert "time to detect" in text and XSS_LINE in text and XSS_LABEL in text
            if res.kind == "investigate":
                text = page.inner_text("body")
                assert XSS_LINE in text and XSS_LABEL in text and "browser-ready-marker" in text
                page.click("details summary")  # the container's labels
                assert XSS_IN_LABEL in page.inner_text("details")
        finally:
            page.close()
        if mode == "shared":
            assert res.html.stat().st_size <= 500_000, f"{res.kind}: {res.html.stat().st_size} bytes"


@pytest.mark.parametrize("mode", ["embedded", "shared"])
def test_index_and_latest_read_offline(browser, reports, mode):
    out_dir = reports[mode + "_dir"]
    for name in ("index.html", "latest.html"):
        page, watch = _open_offline(browser, out_dir / name)
        try:
            if name == "index.html":
                assert page.locator("tr.report").count() == len(reports[mode])
                drawn = _drawn_plots(page, 1)
                assert drawn == 1
                # every link in the index points at a file that exists
                for href in page.eval_on_selector_all("#reports a", "els => els.map(e => e.getAttribute('href'))"):
                    assert (out_dir / href).is_file(), href
            else:
                newest = reports[mode][-1]
                _drawn_plots(page, _expected_figures(newest.ipynb))
                assert _drawn_plots(page, 0) == _expected_figures(newest.ipynb)
            page.wait_for_timeout(300)
            assert watch.errors == [] and watch.blocked == [] and watch.dialogs == []
        finally:
            page.close()


# -- (a) JupyterLab ----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(stack, tmp_path):
    """JupyterLab on 127.0.0.1 (random port, token) over a copy of the notebooks."""
    import httpx
    import nbformat
    root = tmp_path / "lab"
    shutil.copytree(REPO / "notebooks", root)
    nb_file = root / "investigate.ipynb"
    nb = nbformat.read(str(nb_file), as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += (f"\nproject = {stack['project']!r}\ncompose_files = [{str(stack['compose'])!r}]"
                      f"\nstore_path = {str(tmp_path / 'store.sqlite')!r}\naudit_log = {str(tmp_path / 'audit.log')!r}")
    nbformat.write(nb, str(nb_file))
    settings = tmp_path / "lab-settings"
    for rel, data in {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
                      "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                          {"fetchNews": "false", "checkForUpdates": False}}.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(data))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "RUNBOOK_STORE": str(tmp_path / "store.sqlite"), "RUNBOOK_AUDIT_LOG": str(tmp_path / "audit.log")}
    log = open(tmp_path / "jupyterlab.log", "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(root), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start: " + (tmp_path / "jupyterlab.log").read_text()[-2000:])
            time.sleep(0.3)
        yield {"base": base, "token": token, "root": root}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def test_jupyterlab_investigate_panel_shows_chosen_service_logs(browser, jupyterlab, stack):
    ARTIFACTS.mkdir(exist_ok=True)
    base, token = jupyterlab["base"], jupyterlab["token"]
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    watch = PageWatch(page, allow_host=base)
    try:
        page.goto(f"{base}/lab/tree/investigate.ipynb?token={token}", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)

        def run_all() -> None:  # Run > Run All Cells
            page.click(".lm-MenuBar-item:has-text('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        page.wait_for_function("() => /Idle/.test(document.querySelector('.jp-StatusBar-Widget, #jp-main-statusbar')"
                               "?.innerText || '')", timeout=60_000)
        page.wait_for_timeout(1000)
        run_all()
        started = "() => [...document.querySelectorAll('.jp-InputPrompt')].some(p => /\\[(\\*|\\d+)\\]/.test(p.innerText))"
        last_try = time.monotonic()
        service_select = page.locator(".widget-dropdown:has(label:text-is('service')) select")
        select_kernel = page.locator(".jp-Dialog button:has-text('Select')")
        deadline = time.monotonic() + 120
        while not service_select.is_visible():
            if select_kernel.is_visible():  # JupyterLab may ask which kernel to start; then run again
                select_kernel.click()
                page.wait_for_selector(".jp-Dialog", state="detached", timeout=10_000)
                page.wait_for_timeout(2000)
                run_all()
            if not page.evaluate(started) and time.monotonic() - last_try > 10:
                run_all()  # the kernel was not ready yet: nothing ran
                last_try = time.monotonic()
            assert time.monotonic() < deadline, "the investigation widget never appeared"
            page.wait_for_timeout(250)
        options = service_select.locator("option").all_inner_texts()
        assert "web" in options and "db" in options
        service_select.select_option(label="web")
        log = page.locator(".rb-panel[data-service='web'] .rb-log")
        log.wait_for(timeout=60_000)
        page.wait_for_function("() => document.querySelector(\".rb-panel[data-service='web'] .rb-log\")"
                               ".innerText.includes('browser-ready-marker')", timeout=30_000)
        text = log.inner_text()
        assert "browser-log-line-1" in text and "browser-ready-marker" in text
        assert XSS_LINE in text and XSS_LABEL in text
        assert page.locator(".rb-panel[data-service='web'] mark.rb-sig").count() >= 1
        assert page.locator(".widget-button:has-text('Restart')").count() == 1
        page.wait_for_function("() => document.querySelectorAll('.rb-investigate .js-plotly-plot .main-svg').length > 0",
                               timeout=30_000)  # the history chart drew in the panel
        log.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "investigate-jupyterlab.png"), full_page=False)
        assert watch.dialogs == [], watch.dialogs
        assert watch.blocked == [], watch.blocked
        audit = jupyterlab["root"].parent / "audit.log"
        assert not audit.exists()  # choosing a service never acts
        # two-step restart: press Restart…, type the name, Confirm; the plan runs audited
        page.click(".widget-button:has-text('Restart')")
        name_box = page.locator(".rb-investigate .widget-text input")
        name_box.wait_for(timeout=10_000)
        name_box.fill("wbe")
        page.click(".widget-button:has-text('Confirm')")
        page.wait_for_function("() => document.querySelector('.rb-investigate').innerText.includes('is not')",
                               timeout=20_000)
        assert not audit.exists()
        name_box.fill("web")
        page.click(".widget-button:has-text('Confirm')")
        page.wait_for_function("() => document.querySelector('.rb-investigate').innerText.includes('plan complete')",
                               timeout=90_000)
        records = [json.loads(x) for x in audit.read_text().splitlines()]
        assert [r["phase"] for r in records if r["action"] == "restart"] == ["started", "outcome"]
        page.screenshot(path=str(ARTIFACTS / "investigate-jupyterlab-restarted.png"), full_page=False)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "investigate-jupyterlab-failure.png"), full_page=True)
        raise
    finally:
        ctx.close()
