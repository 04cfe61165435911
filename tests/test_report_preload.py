"""The report kernel's preload: the notebook's own imports, run while the kernel starts (not timed)."""
from __future__ import annotations

import json
import sys

from runbook_lib.reports import kernel


def _notebook(tmp_path, *cells: tuple[str, str, list[str]]):
    nb = {"cells": [{"cell_type": kind, "metadata": {"tags": tags}, "source": src} for kind, src, tags in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_preload_runs_the_notebooks_imports_in_a_throwaway_namespace(tmp_path, monkeypatch):
    path = _notebook(tmp_path, ("code", "import colorsys as never_here", ["parameters"]),
                     ("markdown", "import this_is_text", []),
                     ("code", "import json as j\nfrom textwrap import dedent\nx = 1", []),
                     ("code", "%matplotlib inline\nimport wave", []),  # magics: not Python, skipped
                     ("code", "import no_such_module_runbook_test\nimport json as j", []))
    code = kernel.preload_code(path)
    assert code is not None and "\n" not in code  # one line for the kernel's exec_lines
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    monkeypatch.delitem(sys.modules, "wave", raising=False)
    namespace: dict = {}
    exec(code, namespace)  # the missing module is left for its cell to report
    assert "textwrap" in sys.modules
    assert "colorsys" not in sys.modules and "wave" not in sys.modules  # parameters cell, magics cell
    assert set(namespace) <= {"__builtins__"}  # no names leak into the notebook's namespace


def test_preload_of_the_health_check_notebook(tmp_path):
    code = kernel.preload_code(kernel.notebook_path("health_check"))
    assert "runbook_lib.reports" in code and "gather_engines" in code
    assert kernel.preload_code(tmp_path / "missing.ipynb") is None
    assert kernel.preload_code(_notebook(tmp_path, ("code", "x = 1", []))) is None


def test_preload_starts_the_prefetch_first_only_when_asked():
    nb = kernel.notebook_path("health_check")
    assert "prefetch" not in kernel.preload_code(nb)
    code = kernel.preload_code(nb, prefetch=True)
    assert code.index("prefetch.start") < code.index("gather_engines")


def test_prefetch_reads_the_notebooks_defaults_and_the_given_values(monkeypatch):
    from runbook_lib.reports import prefetch
    nb = kernel.notebook_path("health_check")
    defaults = prefetch.parameter_defaults(nb)
    assert defaults["engine_url"] is None and defaults["engine_timeout_s"] == 5.0 and defaults["hosts"] is None
    monkeypatch.delenv("RUNBOOK_HOSTS", raising=False)
    env = {kernel.PARAMS_ENV: json.dumps({"project": "runbook-prefetch-test", "engine_timeout_s": "7"})}
    assert prefetch.start(nb, env) is True
    assert kernel.PARAMS_ENV not in env  # the notebook's processes never see it
    assert prefetch.take_stats(None, "other", 7.0) is None  # other arguments: the notebook starts its own
    future = prefetch.take_stats(None, "runbook-prefetch-test", 7)
    assert future is not None and prefetch.take_stats(None, "runbook-prefetch-test", 7) is None  # taken once
    assert future.result(timeout=60) == []  # no running container in that project (rows)


def test_prefetch_does_nothing_without_values_for_named_hosts_or_other_reports(tmp_path):
    from runbook_lib.reports import prefetch
    nb = kernel.notebook_path("health_check")
    assert prefetch.start(nb, {}) is False
    hosts = {kernel.PARAMS_ENV: json.dumps({"hosts": "[a=unix:///var/run/docker.sock, b=tcp://127.0.0.1:1]"})}
    assert prefetch.start(nb, hosts) is False
    assert prefetch.start(kernel.notebook_path("uptime_report"), {kernel.PARAMS_ENV: "{}"}) is False
    bad = {kernel.PARAMS_ENV: json.dumps({"config_path": str(tmp_path / "missing.yaml")})}
    prefetch.start(nb, bad)  # whatever the config says, never an exception in the preload


def test_the_started_kernels_client_is_ready_and_runs_code(tmp_path):
    from jupyter_core.utils import run_sync
    with kernel.started_kernel(cwd=tmp_path, output_dir=tmp_path / "out") as started:
        kc = started.km.client()
        assert isinstance(kc, kernel.ReadyKernelClient)
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=60)
        msg_id = kc.execute("print(6 * 7)")
        seen = []
        while not seen:
            msg = run_sync(kc.get_iopub_msg)(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                seen.append(msg["content"]["text"])
        assert seen == ["42\n"]


def test_prefetch_knows_where_named_hosts_come_from(monkeypatch):
    from runbook_lib.engine import hosts
    from runbook_lib.reports import prefetch
    env = {kernel.PARAMS_ENV: "{}", hosts.ENV_VAR: "a=unix:///var/run/docker.sock"}
    assert prefetch.start(kernel.notebook_path("health_check"), env) is False
