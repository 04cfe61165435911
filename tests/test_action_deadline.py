"""Every engine call of the actions has a total deadline: a trickling engine ends the step, never hangs it."""
from __future__ import annotations

import socket
import time

import docker
import pandas as pd
import pytest
from test_transport import TRICKLE_GAP_S, TrickleServer

from runbook_lib.engine import action_calls, actions, swarm_actions
from runbook_lib.engine.audit import AuditLog, read_audit
from runbook_lib.exceptions import EngineAPIError, EngineNotFound, EngineTimeout, RunbookError

TIMEOUT_S = 0.5  # the engine timeout; every byte comes far within it (TRICKLE_GAP_S)
TRICKLE_S = 2000 * TRICKLE_GAP_S  # how long the server would go on if nobody hung up


@pytest.fixture(params=["headers", "body"])
def trickling_client(request):
    """A docker-py client of an 'engine' on 127.0.0.1 that answers every request one byte at a time."""
    srv = TrickleServer(socket.AF_INET, ("127.0.0.1", 0), request.param)
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{srv.srv.getsockname()[1]}", version="1.41",
                                 timeout=TIMEOUT_S)
    yield client
    client.close()
    srv.close()


@pytest.mark.parametrize("call, deadline_s", [
    (lambda c: action_calls.start(c, "abc"), TIMEOUT_S),
    (lambda c: action_calls.unpause(c, "abc"), TIMEOUT_S),
    (lambda c: action_calls.inspect(c, "abc"), TIMEOUT_S),
    (lambda c: action_calls.restart(c, "abc", 1), TIMEOUT_S + 1),  # plus its stop timeout
    (lambda c: action_calls.service_force_update(c, "svc"), TIMEOUT_S),
])
def test_each_action_call_ends_at_its_deadline(trickling_client, call, deadline_s):
    t0 = time.monotonic()
    with pytest.raises(EngineTimeout) as err:
        call(trickling_client)
    assert time.monotonic() - t0 < TRICKLE_S / 2  # it did not wait for the server to finish
    assert f"timed out after {deadline_s:g} s" in str(err.value)
    assert isinstance(err.value, RunbookError)


def _plan(*steps: tuple[str, str]) -> pd.DataFrame:
    rows = [{"wave": i + 1, "step": i + 1, "service": svc, "container": f"c-{svc}", "action": act,
             "condition": None, "timeout_s": None, "reason": "test", "depends_on": [], "manual": False,
             "command": None} for i, (svc, act) in enumerate(steps)]
    return pd.DataFrame(rows)


def test_apply_stops_honestly_at_a_hung_engine(trickling_client, tmp_path, monkeypatch):
    monkeypatch.setattr(actions, "RESTART_STOP_TIMEOUT_S", 1)
    msgs: list[str] = []
    log = actions.apply_plan(trickling_client, _plan(("db", "restart"), ("api", "start")), None,
                             AuditLog(tmp_path / "a.log"), progress=msgs.append)
    assert list(log["outcome"]) == ["timeout", "not-run"]
    assert "timed out after 1.5 s" in log.iloc[0]["detail"]  # engine timeout + the restart's stop timeout
    assert log.attrs["status"] == "stopped" and log.attrs["stopped_at"] == "db"
    assert log.attrs["skipped"] and "api" in " ".join(log.attrs["skipped"])
    rec = read_audit(tmp_path / "a.log")
    step = rec[(rec["action"] == "restart") & (rec["phase"] == "outcome")].iloc[0]
    assert step["outcome"] == "timeout" and "timed out after 1.5 s" in step["detail"]
    assert "stopped at db" in msgs[-1]


def test_swarm_apply_stops_at_a_hung_engine(trickling_client, tmp_path):
    plan = pd.DataFrame([{"wave": 1, "step": i + 1, "service": s, "stack": "st", "action": "service-update-force",
                          "replicas": None, "depends_on": [], "reason": "", "command": f"update {s}"}
                         for i, s in enumerate(("a", "b"))])
    log = swarm_actions.apply_swarm_plan(trickling_client, plan, AuditLog(tmp_path / "a.log"), dry_run=False,
                                         progress=None)
    assert list(log["outcome"]) == ["timeout", "not-run"] and "timed out after" in log.iloc[0]["detail"]
    assert read_audit(tmp_path / "a.log")["outcome"].dropna().tolist() == ["timeout", "stopped"]


def test_an_engine_without_the_lean_transport_is_bounded_too(monkeypatch):
    """ssh/TLS engines: docker-py's call runs in a helper thread, abandoned at the deadline."""
    class Api:
        timeout = TIMEOUT_S

        @staticmethod
        def unpause(container):
            time.sleep(TRICKLE_S)

    class Client:
        api = Api()
    monkeypatch.setattr(action_calls, "engine_http", lambda client: None)
    with pytest.raises(EngineTimeout, match="timed out after 0.5 s"):
        action_calls.unpause(Client(), "abc")


def test_real_engine_calls_and_errors(docker_client, busybox_image, test_label):
    key, val = test_label.split("=", 1)
    c = docker_client.containers.create(busybox_image, ["sleep", "300"], labels={key: val})
    try:
        action_calls.start(docker_client, c.id)
        action_calls.start(docker_client, c.id)  # 304: already started is fine
        assert action_calls.inspect(docker_client, c.id)["State"]["Status"] == "running"
        before = action_calls.inspect(docker_client, c.id)["State"]["StartedAt"]
        action_calls.restart(docker_client, c.id, 0)
        assert action_calls.inspect(docker_client, c.id)["State"]["StartedAt"] != before
        with pytest.raises(EngineAPIError, match="not paused"):
            action_calls.unpause(docker_client, c.id)
    finally:
        c.remove(force=True)
    with pytest.raises(EngineNotFound):
        action_calls.inspect(docker_client, c.id)
