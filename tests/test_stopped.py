"""A container stopped on purpose (docker stop / kill) is diagnosed as such, not as an unknown failure."""
from __future__ import annotations

import pytest

import dockerenv
from runbook_lib.analysis import diagnosis
from runbook_lib.analysis.stopped import operator_stop
from runbook_lib.engine import evidence_frame, logs
from runbook_lib.engine.inventory import gather_inventory


def _diagnose(docker_client, test_label, c):
    inv = gather_inventory(docker_client, label=test_label)
    return diagnosis.diagnose(evidence_frame.gather_evidence(docker_client, inv[inv["name"] == c.name]))


def _exited(c):
    def done():
        c.reload()
        return c.status == "exited"
    dockerenv.wait_for(done, timeout_s=60)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["stop", "stop-after-grace", "kill"])
def test_docker_stop_is_stopped_on_purpose(docker_client, containers, test_label, how):
    # busybox sleep as PID 1 ignores SIGTERM (exit 137 after the grace period); the trap exits 143
    cmd = ["sleep", "600"] if how == "stop-after-grace" else ["sh", "-c", "trap 'exit 143' TERM; sleep 600 & wait"]
    c = containers(cmd, name=f"stopped-{how}")
    if how == "kill":
        c.kill()
    else:
        c.stop(timeout=1)
    _exited(c)
    f = _diagnose(docker_client, test_label, c)
    assert list(f["category"]) == ["stopped"], f[["category", "cause"]].to_string()
    row = f.iloc[0]
    verb = "docker kill" if how == "kill" else "docker stop"
    assert f"stopped by an operator ({verb} at " in row["cause"] and row["root_cause"]
    assert "docker start" in row["fix"] and "runbook plan" in row["fix"]
    assert row["severity"] == "medium" and "no known signature" not in row["cause"]


@pytest.mark.timeout(120)
def test_a_crash_is_not_a_stop(docker_client, containers, test_label):
    c = containers(["sh", "-c", "echo 'the flux capacitor is out of sync'; exit 5"], name="stopped-crash")
    _exited(c)
    f = _diagnose(docker_client, test_label, c)
    assert "stopped" not in set(f["category"]) and "unclassified" in set(f["category"])


def test_operator_stop_pure():
    down = {"state": "exited", "exit_code": 0, "oom_killed": False}
    stop = {"time": "2026-01-01T10:00:01+00:00", "action": "stop", "detail": ""}
    kill = {"time": "2026-01-01T10:00:00+00:00", "action": "kill", "detail": "signal 15"}
    start = {"time": "2026-01-01T10:05:00+00:00", "action": "start", "detail": ""}
    die = {"time": "2026-01-01T10:06:00+00:00", "action": "die", "detail": ""}
    found = operator_stop({**down, "events": [stop, kill]})
    assert found is not None and found.action == "stop" and found.detail == "signal 15"
    assert operator_stop({**down, "events": [kill, stop, start, die]}) is None  # started again, then crashed
    assert operator_stop({**down, "events": []}) is None
    assert operator_stop({**down, "oom_killed": True, "events": [kill, stop]}) is None
    assert operator_stop({**down, "state": "running", "events": [kill, stop]}) is None
    f = diagnosis.diagnose([{**down, "service": "api", "name": "p-api-1", "failing": True, "log_lines": ["bye"],
                             "events": [kill, stop]}])
    assert list(f["category"]) == ["stopped"] and "2026-01-01 10:00:01 UTC" in f.iloc[0]["cause"]
