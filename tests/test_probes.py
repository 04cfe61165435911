"""Probe engine and core kinds against real servers on 127.0.0.1 (no mocks)."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from runbook_lib.probes import registry
from runbook_lib.probes import rows as probe_rows
from runbook_lib.exceptions import RunbookError
from runbook_lib.probes.runner import run_round
from runbook_lib.probes.spec import ProbeSpec
from servers import (HttpStub, http_stub, postgres_server, redis_server,  # noqa: F401
                     silent_server, tcp_blackhole, free_port)


def one(spec: ProbeSpec, **kw) -> dict:
    df = run_round([spec], **kw)
    assert list(df.columns) == probe_rows.PROBE_COLUMNS
    assert len(df) == 1
    return df.iloc[0].to_dict()


# ---------------------------------------------------------------- PostgreSQL
def test_postgres_right_password_up(postgres_server):
    pg = postgres_server
    row = one(ProbeSpec("postgres", "postgres", port=pg.port,
                        options={"user": pg.user, "password": pg.password, "dbname": pg.dbname}))
    assert row["state"] == "up" and row["ok"]
    assert "SELECT 1 ok" in row["reply"]
    assert row["latency_ms"] > 0
    assert pg.password not in str(row)


def test_postgres_wrong_password_down(postgres_server):
    pg = postgres_server
    row = one(ProbeSpec("postgres", "postgres", port=pg.port,
                        options={"user": pg.user, "password": "wrong-" + pg.password, "dbname": pg.dbname}))
    assert row["state"] == "down" and not row["ok"]
    assert "authentication failed" in row["error"]
    assert pg.password not in str(row)


def test_postgres_missing_credentials_unknown(postgres_server):
    row = one(ProbeSpec("postgres", "postgres", port=postgres_server.port))
    assert row["state"] == "unknown"
    assert "missing credentials" in row["error"]


def test_postgres_refused_down():
    row = one(ProbeSpec("postgres", "postgres", port=free_port(), options={"user": "u", "password": "p1234"}))
    assert row["state"] == "down"
    assert "refused" in row["error"]


def test_postgres_that_never_answers_times_out(silent_server):
    t0 = time.monotonic()
    row = one(ProbeSpec("postgres", "postgres", port=silent_server.port, timeout_s=1.0,
                        options={"user": "u", "password": "p1234"}))
    assert row["state"] == "down"
    assert row["error"] == "timeout"
    assert time.monotonic() - t0 < 3 * 1.0


# ---------------------------------------------------------------- Redis
def test_redis_right_password_up(redis_server):
    row = one(ProbeSpec("redis", "redis", port=redis_server.port, options={"password": redis_server.password}))
    assert row["state"] == "up" and row["reply"] == "PONG"
    assert redis_server.password not in str(row)


def test_redis_wrong_password_down(redis_server):
    row = one(ProbeSpec("redis", "redis", port=redis_server.port, options={"password": "nope-nope"}))
    assert row["state"] == "down"
    assert "authentication failed" in row["error"]


def test_redis_missing_password_unknown(redis_server):
    row = one(ProbeSpec("redis", "redis", port=redis_server.port))
    assert row["state"] == "unknown"
    assert "missing credentials" in row["error"]


def test_redis_refused_down():
    row = one(ProbeSpec("redis", "redis", port=free_port(), options={"password": "x1234"}))
    assert row["state"] == "down" and "refused" in row["error"]


def test_redis_silent_times_out(silent_server):
    row = one(ProbeSpec("redis", "redis", port=silent_server.port, timeout_s=0.5, options={"password": "x1234"}))
    assert row["state"] == "down" and row["error"] == "timeout"


# ---------------------------------------------------------------- HTTP
def http(stub: HttpStub, path: str, **options) -> ProbeSpec:
    timeout_s = options.pop("timeout_s", 2.0)
    return ProbeSpec("app", "http", port=stub.port, path=path, timeout_s=timeout_s, options=options)


def test_http_terminus_all_up(http_stub):
    row = one(http(http_stub, "/health"))
    assert row["state"] == "up" and row["reply"] == "HTTP 200"
    comps = {d["component"]: d["status"] for d in row["detail"]}
    assert comps == {"database": "up", "redis": "up", "memory_heap": "up"}


def test_http_terminus_component_down_is_degraded(http_stub):
    row = one(http(http_stub, "/api/v1/health"))
    assert row["state"] == "degraded" and row["ok"]
    assert "kafka" in row["error"]
    kafka = [d for d in row["detail"] if d["component"] == "kafka"][0]
    assert kafka["status"] == "down" and "Connection timeout" in kafka["message"]


def test_http_terminus_all_components_down_is_down(http_stub):
    row = one(http(http_stub, "/health/down"))
    assert row["state"] == "down"


def test_http_500_and_404_down(http_stub):
    df = run_round([http(http_stub, "/500"), http(http_stub, "/nope")])
    assert list(df["state"]) == ["down", "down"]
    assert df.iloc[0]["error"] == "unexpected status 500"
    assert df.iloc[1]["reply"] == "HTTP 404"


def test_http_expected_status_and_conditions(http_stub):
    rows = run_round([
        http(http_stub, "/500", expected_status=500),
        http(http_stub, "/plain", json_path="$.status", json_equals="ok"),
        http(http_stub, "/plain", json_path="$.status", json_equals="green"),
        http(http_stub, "/plain", regex=r'"version":\s*"1\.'),
        http(http_stub, "/plain", regex="nomatch"),
        http(http_stub, "/garbage", json_path="$.status"),
    ])
    assert list(rows["state"]) == ["up", "up", "down", "up", "down", "down"]
    assert "expected 'green'" in rows.iloc[2]["error"]
    assert "not found" in rows.iloc[5]["error"]


def test_http_garbage_body_does_not_break(http_stub):
    row = one(http(http_stub, "/garbage"))
    assert row["state"] == "up" and row["detail"] == []


def test_http_slow_answer_times_out_and_round_ends_in_time(http_stub):
    t0 = time.monotonic()
    df = run_round([http(http_stub, "/slow", timeout_s=1.0), http(http_stub, "/health", timeout_s=1.0)])
    elapsed = time.monotonic() - t0
    assert list(df["state"]) == ["down", "up"]
    assert df.iloc[0]["error"] == "timeout"
    assert elapsed < 3 * 1.0


def test_http_refused_down():
    row = one(ProbeSpec("app", "http", port=free_port(), path="/health"))
    assert row["state"] == "down" and row["error"] == "connection refused"


# ---------------------------------------------------------------- TCP
def test_tcp_open_blackhole_refused(http_stub, tcp_blackhole):
    df = run_round([ProbeSpec("a", "tcp", port=http_stub.port, timeout_s=1.0),
                    ProbeSpec("b", "tcp", port=tcp_blackhole.port, timeout_s=1.0),
                    ProbeSpec("c", "tcp", port=free_port(), timeout_s=1.0)])
    assert list(df["state"]) == ["up", "down", "down"]
    assert list(df["error"])[1:] == ["timeout", "connection refused"]


def test_http_to_blackhole_times_out(tcp_blackhole):
    row = one(ProbeSpec("a", "http", port=tcp_blackhole.port, path="/health", timeout_s=0.5))
    assert row["state"] == "down" and row["error"] == "timeout"


# ---------------------------------------------------------------- the runner
def test_round_is_concurrent_and_hard_bounded(tcp_blackhole):
    @registry.register("test-sleeper")
    def sleeper(spec):  # ignores its timeout, like a misbehaving library
        time.sleep(30)

    try:
        specs = [ProbeSpec(f"s{i}", "tcp", port=tcp_blackhole.port, timeout_s=1.0) for i in range(8)]
        specs.append(ProbeSpec("stuck", "test-sleeper", timeout_s=1.0))
        t0 = time.monotonic()
        df = run_round(specs)
        elapsed = time.monotonic() - t0
        assert len(df) == 9 and (df["state"] == "down").all() and (df["error"] == "timeout").all()
        assert list(df["service"]) == [s.service for s in specs]  # order kept
        assert elapsed < 3 * 1.0  # not the sum (9 s)
    finally:
        registry.KINDS.pop("test-sleeper", None)


def test_max_workers_still_bounded(tcp_blackhole):
    specs = [ProbeSpec(f"s{i}", "tcp", port=tcp_blackhole.port, timeout_s=0.3) for i in range(4)]
    df = run_round(specs, max_workers=2)
    assert (df["error"] == "timeout").all() and len(df) == 4


def test_our_bug_is_unknown_and_others_still_run(http_stub):
    @registry.register("test-buggy")
    def buggy(spec):
        return {}["missing"]

    try:
        df = run_round([ProbeSpec("x", "test-buggy"), http(http_stub, "/health")])
        assert list(df["state"]) == ["unknown", "up"]
        assert df.iloc[0]["error"].startswith("probe error: KeyError")
        assert df.iloc[0]["ok"] is False or not df.iloc[0]["ok"]
    finally:
        registry.KINDS.pop("test-buggy", None)


def test_unknown_kind_names_what_exists():
    with pytest.raises(RunbookError, match="Known kinds: .*http.*postgres"):
        registry.lookup("nosuchkind")
    row = one(ProbeSpec("x", "nosuchkind"))
    assert row["state"] == "unknown" and "No probe kind named 'nosuchkind'" in row["error"]


def test_kind_may_return_dict_or_none():
    registry.register("test-dict", lambda spec: {"state": "degraded", "reply": "half"})
    registry.register("test-none", lambda spec: None)
    try:
        df = run_round([ProbeSpec("a", "test-dict"), ProbeSpec("b", "test-none")])
        assert list(df["state"]) == ["degraded", "up"]
    finally:
        registry.KINDS.pop("test-dict", None)
        registry.KINDS.pop("test-none", None)


def test_secrets_never_in_rows():
    canary = "canary-" + "7f3a9c21e"

    @registry.register("test-leaky")
    def leaky(spec):
        raise ValueError(f"cannot connect with password {spec.options['password']} to postgres://u:{canary}@h/db")

    try:
        row = one(ProbeSpec("x", "test-leaky", options={"password": canary}))
        assert canary not in str(row)
        assert "[MASKED]" in row["error"]
    finally:
        registry.KINDS.pop("test-leaky", None)


def test_not_published_without_container_is_unknown():
    row = one(ProbeSpec("zookeeper", "tcp", port=2181, via="exec", container=None))
    assert row["state"] == "unknown" and "port not published" in row["error"]
    row = one(ProbeSpec("zookeeper", "tcp", port=2181, via="none"))
    assert row["state"] == "unknown" and row["error"] == "port not published"


def test_empty_round():
    df = run_round([])
    assert df.empty and list(df.columns) == probe_rows.PROBE_COLUMNS


def test_target_masks_credentials():
    spec = ProbeSpec("db", "http", host="u:s3cretpw@127.0.0.1", port=1, path="/x")
    assert "s3cretpw" not in spec.target


# ---------------------------------------------------------------- summary
def test_probe_summary_counts():
    df = pd.DataFrame([{"service": "a", "kind": "tcp", "state": s, "error": None} for s in
                       ["up", "up", "down", "unknown", "degraded"]])
    s = probe_rows.probe_summary(df)
    assert s["probes_by_state"] == {"up": 2, "degraded": 1, "down": 1, "unknown": 1}
    assert s["probes_total"] == 5 and s["probe_coverage_pct"] == 80.0 and s["probe_status"] == "down"
    assert probe_rows.probe_summary(probe_rows.empty_rows())["probe_status"] == "unknown"


def test_docker_probe_with_hung_engine_is_unknown(silent_server):
    import docker
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{silent_server.port}", timeout=5, version="1.41")
    df = run_round([ProbeSpec("db", "docker", container="abc", timeout_s=0.5),
                    ProbeSpec("db", "tcp", port=silent_server.port, timeout_s=0.5)], client=client)
    assert list(df["state"]) == ["unknown", "up"]  # coverage lost, never "down"; other probes still run
    assert "engine did not answer" in df.iloc[0]["error"]
