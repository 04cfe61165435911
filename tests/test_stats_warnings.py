"""Engine stats on real containers (one-shot, concurrent) and the early warnings over frames."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from runbook_lib.analysis import warnings as w
from runbook_lib.engine.inventory import gather_inventory
from runbook_lib.engine.stats import COLUMNS, parse_stats, read_stats, start_reading
from runbook_lib.engine.stats import frame as stats_frame
from runbook_lib.engine.stats_rows import read_stats_rows

T0 = pd.Timestamp("2026-01-01T00:00:00Z")


@pytest.mark.docker
def test_stats_of_real_containers(docker_client, containers, test_label):
    a = containers(["sleep", "300"], name="stats-a", labels={"com.docker.compose.service": "a"}, mem_limit="64m")
    b = containers(["sleep", "300"], name="stats-b", labels={"com.docker.compose.service": "b"})
    inv = gather_inventory(docker_client, label=test_label)
    first = read_stats(docker_client, inv)
    assert list(first.columns) == COLUMNS
    assert set(first["container"]) == {a.id[:12], b.id[:12]}
    assert first["error"].isna().all()
    row = first.set_index("service").loc["a"]
    assert row["mem_limit_bytes"] == 64 * 2**20
    assert 0 < row["mem_bytes"] < row["mem_limit_bytes"] and 0 <= row["mem_pct"] < 90
    assert row["pids"] >= 1 and row["read_at"].tzinfo is not None
    again = read_stats(docker_client, inv, previous=first)
    assert again["cpu_total_ns"].notna().all() and again["system_cpu_ns"].notna().all()
    assert again["cpu_pct"].notna().all()  # against the previous frame: one-shot answers carry no precpu
    rows = read_stats_rows(docker_client, inv.to_dict("records"))  # the same read as rows (no pandas)
    assert sorted(r["container"] for r in rows) == sorted(first["container"])
    assert all(isinstance(r["read_at"], datetime) and r["read_at"].tzinfo is not None for r in rows)
    assert stats_frame(rows).dtypes.equals(first.dtypes)


@pytest.mark.docker
def test_stats_of_a_gone_container_is_a_row(docker_client):
    df = read_stats(docker_client, ["0000000000000000deadbeef"])
    assert len(df) == 1 and "404" in df["error"].iloc[0]
    early = start_reading(docker_client, ["0000000000000000deadbeef"]).result(timeout=60)  # in the background
    assert list(early.columns) == COLUMNS and "404" in early["error"].iloc[0]


def test_parse_stats_excludes_cache_and_uses_previous():
    raw = {"read": "2026-01-01T00:00:00Z", "memory_stats": {"usage": 200, "limit": 1000, "stats": {"inactive_file": 50}},
           "cpu_stats": {"cpu_usage": {"total_usage": 2_000}, "system_cpu_usage": 20_000, "online_cpus": 2},
           "precpu_stats": {}, "pids_stats": {"current": 3}}
    row = parse_stats(raw, container="c", previous={"cpu_total_ns": 1_000, "system_cpu_ns": 10_000})
    assert row["mem_bytes"] == 150 and row["mem_pct"] == 15.0 and row["pids"] == 3
    assert row["cpu_pct"] == 20.0


def stats_rows(service: str, pcts: list[float]) -> list[dict]:
    return [{"service": service, "project": "p", "container": service, "mem_pct": p, "mem_bytes": p * 2**20,
             "mem_limit_bytes": 100 * 2**20, "read_at": T0 + pd.Timedelta(minutes=i)} for i, p in enumerate(pcts)]


def test_oom_risk_needs_several_samples():
    hist = pd.DataFrame(stats_rows("api", [95, 96, 97]) + stats_rows("web", [50, 99, 95]) + stats_rows("db", [97, 98]))
    out = w.oom_risk(hist)
    assert out["service"].tolist() == ["api"] and "OOM" in out["message"].iloc[0]


def test_restart_growth():
    inv = pd.DataFrame([{"ts": T0, "service": "api", "project": "p", "restart_count": 2},
                        {"ts": T0 + pd.Timedelta(minutes=1), "service": "api", "project": "p", "restart_count": 5},
                        {"ts": T0, "service": "db", "project": "p", "restart_count": 1},
                        {"ts": T0 + pd.Timedelta(minutes=1), "service": "db", "project": "p", "restart_count": 1}])
    out = w.restart_growth(inv)
    assert out["service"].tolist() == ["api"] and out["value"].iloc[0] == 3


def test_slow_healthcheck_near_timeout():
    log = [{"start": "2026-01-01 00:00:00+00:00", "end": "2026-01-01 00:00:04.500000+00:00"}]
    inv = pd.DataFrame([{"service": "api", "project": "p", "health_log": log},
                        {"service": "db", "project": "p", "health_log": [{"start": "2026-01-01 00:00:00+00:00",
                                                                          "end": "2026-01-01 00:00:01+00:00"}]}])
    out = w.slow_healthchecks(inv, {"api": 5.0, "db": 5.0})
    assert out["service"].tolist() == ["api"] and "4.5 s of its 5 s" in out["message"].iloc[0]


def test_unguarded_dependency():
    cat = pd.DataFrame([{"service": "db", "has_healthcheck": False, "depends_on": [], "healthcheck": None},
                        {"service": "api", "has_healthcheck": True, "healthcheck": {"timeout_s": 3.0},
                         "depends_on": [{"service": "db", "condition": "service_healthy"}]}])
    out = w.early_warnings(catalog_frame=cat)
    assert out["kind"].tolist() == ["unguarded_dependency"] and "api" in out["message"].iloc[0]
    assert w.health_timeouts(cat) == {"api": 3.0}
