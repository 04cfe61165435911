"""Evidence gathering on the real engine: bounded tails, bad bytes, huge logs, events, masking."""
from __future__ import annotations

import tracemalloc

import pytest

import dockerenv
from runbook_lib import redact
from runbook_lib.engine import evidence_frame, logs
from runbook_lib.engine.inventory import gather_inventory


def wait_exited(client, c, timeout_s: float = 120.0) -> None:
    def done():
        c.reload()
        return c.status == "exited"
    dockerenv.wait_for(done, timeout_s=timeout_s)


def evidence_for(client, test_label, name, **kw):
    inv = gather_inventory(client, label=test_label)
    inv = inv[inv["name"] == name]
    assert len(inv) == 1
    return evidence_frame.gather_evidence(client, inv, **kw)


# -- pure parts ----------------------------------------------------------------------
def test_cut_line_marks_bytes_cut():
    line = "é" * 5000  # 2 bytes each
    out = logs.cut_line(line, 4096)
    assert out.endswith("…[cut 5904 bytes]")
    assert len(out.split("…")[0].encode()) == 4096


def test_split_tail_replaces_bad_bytes_and_strips_colour():
    data = b"\x1b[32mLOG\x1b[39m ok\n\xff\xfe broken \xc3\n"
    lines, truncated = logs.split_tail(data, tail_lines=10)
    assert lines[0] == "LOG ok"
    assert "\ufffd" in lines[1]
    assert truncated is False


def test_split_tail_limits_lines_and_bytes():
    data = b"".join(f"line {i}\n".encode() for i in range(50))
    lines, truncated = logs.split_tail(data, tail_lines=20)
    assert len(lines) == 20 and lines[-1] == "line 49" and truncated
    lines, truncated = logs.split_tail(data, tail_lines=50, max_bytes=35)
    assert lines == ["line 45", "line 46", "line 47", "line 48", "line 49"] and truncated


def test_line_tail_any_chunking_same_result():
    data = b"alpha\n" + b"x" * 10_000 + b"\nbeta\ngamma"
    whole = logs.split_tail(data, max_line_bytes=100)
    t = logs.LineTail(max_line_bytes=100)
    for i in range(0, len(data), 7):
        t.feed(data[i:i + 7])
    assert t.lines() == whole
    assert whole[0] == ["alpha", "x" * 100 + "…[cut 9900 bytes]", "beta", "gamma"]


def test_needs_evidence_selects_not_healthy():
    assert logs.needs_evidence({"state": "exited", "health": "none"})
    assert logs.needs_evidence({"state": "running", "health": "unhealthy"})
    assert logs.needs_evidence({"state": "restarting", "health": "none"})
    assert not logs.needs_evidence({"state": "running", "health": "healthy"})
    assert not logs.needs_evidence({"state": "running", "health": "none"})


def test_normalise_event_health_status_and_die():
    ev = {"Type": "container", "Action": "health_status: unhealthy", "timeNano": 1795740000000000000,
          "Actor": {"ID": "abcdef0123456789", "Attributes": {"name": "x"}}}
    n = logs.normalise_event(ev)
    assert n["action"] == "health_status" and n["detail"] == "unhealthy" and n["id"] == "abcdef012345"
    die = logs.normalise_event({"Action": "die", "time": 1795740000,
                                "Actor": {"ID": "abc", "Attributes": {"exitCode": "137"}}})
    assert die["exit_code"] == 137
    assert logs.normalise_event({"Action": "exec_start: sh", "Actor": {}}) is None


# -- real engine -----------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_200mb_of_logs_bounded_memory(docker_client, containers, test_label):
    script = 'yes "$(head -c 999 /dev/zero | tr "\\0" a)" | head -c 200000000; echo; echo FINAL-LINE; exit 3'
    c = containers(["sh", "-c", script], name="big200")
    wait_exited(docker_client, c, 240)
    tracemalloc.start()
    try:
        ev = evidence_for(docker_client, test_label, c.name, tail_lines=200, max_bytes=256_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    row = ev.iloc[0]
    assert row["log_lines"][-1] == "FINAL-LINE"
    assert len(row["log_lines"]) <= 200
    assert row["exit_code"] == 3
    assert peak < 32 * 1024 * 1024, f"peak {peak} bytes"
    from runbook_lib.analysis import diagnosis as diagnose# the report still gets its finding, with the last lines
    f = diagnose.diagnose(ev)
    assert len(f) >= 1 and any("FINAL-LINE" in e for e in f.iloc[0]["evidence"])


@pytest.mark.timeout(120)
def test_one_megabyte_single_line_is_cut_and_marked(docker_client, containers, test_label):
    script = "echo first; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo after; head -c 1000000 /dev/zero | tr '\\0' y"
    c = containers(["sh", "-c", script], name="oneline")
    wait_exited(docker_client, c)
    row = evidence_for(docker_client, test_label, c.name, max_bytes=256_000).iloc[0]
    lines = row["log_lines"]
    assert row["log_truncated"]
    assert any(ln == "after" for ln in lines)
    assert lines[-1].startswith("yyyy") and lines[-1].endswith("bytes]") and "…[cut " in lines[-1]
    assert all(len(ln.encode()) < 4096 + 200 for ln in lines)


@pytest.mark.timeout(120)
def test_binary_output_is_decoded_with_replacement(docker_client, containers, test_label):
    script = "head -c 200000 /dev/urandom; echo; echo done-binary; exit 2"
    c = containers(["sh", "-c", script], name="binary")
    wait_exited(docker_client, c)
    row = evidence_for(docker_client, test_label, c.name).iloc[0]
    assert row["log_lines"][-1] == "done-binary"
    assert all(isinstance(ln, str) for ln in row["log_lines"])
    assert row["exit_code"] == 2
    from runbook_lib.analysis import diagnosis as diagnose
    assert len(diagnose.diagnose(evidence_frame.gather_evidence(docker_client, gather_inventory(docker_client, label=test_label)
                                                      .query("name == @c.name")))) >= 1


@pytest.mark.timeout(120)
def test_secrets_in_logs_and_health_output_are_masked(docker_client, containers, test_label):
    canary = "canary-" + dockerenv.SESSION_ID + "-pw"
    c = containers(["sh", "-c", 'echo "connecting with password $DB_PASSWORD"; '
                    'echo "postgres://app:$DB_PASSWORD@db:5432/x"; exit 1'],
                   name="secret", environment={"DB_PASSWORD": canary})
    wait_exited(docker_client, c)
    row = evidence_for(docker_client, test_label, c.name).iloc[0]
    text = "\n".join(row["log_lines"])
    assert canary not in text and redact.MASK in text


@pytest.mark.timeout(120)
def test_events_and_oom_kill_are_gathered(docker_client, containers, test_label):
    c = containers(["sh", "-c", "echo allocating; x=$(head -c 100000000 /dev/zero | tr '\\0' x); echo $x"],
                   name="oom", mem_limit="16m", memswap_limit="16m")
    wait_exited(docker_client, c)
    row = evidence_for(docker_client, test_label, c.name).iloc[0]
    assert row["oom_killed"] and row["exit_code"] == 137
    actions = [e["action"] for e in row["events"]]
    assert "die" in actions and "oom" in actions and "start" in actions
    die = [e for e in row["events"] if e["action"] == "die"][0]
    assert die["exit_code"] == 137 and die["time"].endswith("+00:00")


@pytest.mark.timeout(120)
def test_selection_health_log_and_restart_growth(docker_client, containers, test_label):
    healthy = containers(["sleep", "300"], name="fine")
    bad = containers(["sleep", "300"], name="unhealthy",
                     healthcheck={"test": ["CMD-SHELL", "echo probe-said-no; exit 1"], "interval": 500_000_000,
                                  "retries": 1})

    def unhealthy():
        bad.reload()
        return bad.attrs["State"].get("Health", {}).get("Status") == "unhealthy"
    dockerenv.wait_for(unhealthy, timeout_s=60)
    inv = gather_inventory(docker_client, label=test_label)
    inv = inv[inv["name"].isin([healthy.name, bad.name])]
    ev = evidence_frame.gather_evidence(docker_client, inv, previous={bad.name: 0})
    assert list(ev["name"]) == [bad.name]
    row = ev.iloc[0]
    assert row["health"] == "unhealthy" and "probe-said-no" in row["health_output"]
    assert row["restart_growth"] == 0
    every = evidence_frame.gather_evidence(docker_client, inv, all=True)
    assert set(every["name"]) == {healthy.name, bad.name}
    only = evidence_frame.gather_evidence(docker_client, inv, services=[healthy.name])
    assert list(only["name"]) == [healthy.name]


@pytest.mark.timeout(120)
def test_log_times_come_from_the_engine(docker_client, containers, test_label):
    c = containers(["sh", "-c", "echo one; echo 2026-01-01T00:00:00Z not-a-prefix; exit 1"], name="times")
    wait_exited(docker_client, c)
    row = evidence_for(docker_client, test_label, c.name).iloc[0]
    assert row["log_lines"] == ["one", "2026-01-01T00:00:00Z not-a-prefix"]
    assert len(row["log_times"]) == 2 and all(t and t.endswith("Z") and t.startswith("20") for t in row["log_times"])
    assert row["failing"] is True or row["failing"] == True  # noqa: E712


class _TricklingLogs:
    """A client whose log stream never ends: one short line at a time (bounded)."""

    class api:  # noqa: N801 - stands in for docker-py's APIClient
        @staticmethod
        def logs(container_id, **kw):
            import time
            for i in range(2000):  # ~100 s if nobody stops reading
                time.sleep(0.05)
                yield f"2026-01-01T00:00:00.000000000Z line {i}\n".encode()


def test_trickling_log_stream_is_cut_at_the_deadline():
    out = logs.read_log_tail(_TricklingLogs(), "abc", tail_lines=50, deadline_s=0.3)
    assert out["log_truncated"] is True
    assert out["log_lines"][-1].startswith("…[stopped reading after 0.3 s")
    assert any("line 0" in ln for ln in out["log_lines"])
