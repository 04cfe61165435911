"""Expected vs actual: states, port issues, root causes apart from what they block."""
from __future__ import annotations

from recovery_helpers import catalog, dep, hc, inventory

from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.analysis.tiers import readiness_text


def _by(df):
    return {r["service"]: r for _, r in df.iterrows()}


def test_every_actual_state_is_classified():
    cat = catalog({s: {} for s in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]})
    inv = inventory([
        {"service": "b", "state": "created"},
        {"service": "c", "state": "running", "health": "healthy"},
        {"service": "d", "state": "running", "health": "unhealthy", "health_output": "pg down", "failing_streak": 4},
        {"service": "e", "state": "running", "health": "starting"},
        {"service": "f", "state": "running", "health": "none"},
        {"service": "g", "state": "restarting", "restart_count": 7},
        {"service": "h", "state": "exited", "exit_code": 137, "oom_killed": True},
        {"service": "i", "state": "paused"},
        {"service": "j", "state": "dead"},
    ])
    got = _by(expected_vs_actual(cat, inv, project="p"))
    assert {s: got[s]["actual"] for s in got} == {
        "a": "not-created", "b": "created", "c": "running-healthy", "d": "running-unhealthy",
        "e": "running-starting", "f": "running-no-healthcheck", "g": "restarting", "h": "exited",
        "i": "paused", "j": "dead"}
    assert got["h"]["exit_code"] == 137 and got["h"]["oom_killed"] and "OOM" in got["h"]["detail"]
    assert got["g"]["restart_count"] == 7
    assert "failing streak 4" in got["d"]["detail"]
    assert [s for s in got if got[s]["is_up"]] == ["c", "f"]
    assert not got["e"]["is_up"] and not got["e"]["is_down"]  # starting: neither


def test_match_by_container_name_and_project_scope():
    cat = catalog({"db": {"container_name": "vextrus-postgres"}, "api": {}})
    inv = inventory([{"service": "postgres-old", "name": "vextrus-postgres", "state": "running"},
                     {"service": "api", "state": "running", "project": "other"}], project="x")
    got = _by(expected_vs_actual(cat, inv, project="p"))
    assert got["db"]["container"] == "vextrus-postgres" and got["db"]["actual"] == "running-no-healthcheck"
    assert got["api"]["actual"] == "not-created"  # the other project's api is not ours


def test_declared_port_not_published():
    ports = [{"host_ip": None, "host_port": 5432, "container_port": 5432, "protocol": "tcp"},
             {"host_ip": None, "host_port": 8081, "container_port": 8080, "protocol": "tcp"},
             {"host_ip": None, "host_port": None, "container_port": 9000, "protocol": "tcp"}]
    cat = catalog({"db": {"ports": ports}})
    inv = inventory([{"service": "db", "state": "running", "published_ports": [
        {"host_ip": "0.0.0.0", "host_port": 15432, "container_port": 5432, "protocol": "tcp"}]}])
    row = _by(expected_vs_actual(cat, inv, project="p"))["db"]
    assert row["port_issues"] == ["5432:5432/tcp declared, published on host port 15432",
                                  "8081:8080/tcp declared, not published"]


def test_root_cause_and_transitive_blocked_by():
    # db <- api <- web ; cache <- api ; db down, web down because of it
    cat = catalog({"db": {"healthcheck": hc()}, "cache": {}, "api": {"depends_on": ["db", "cache"]},
                   "web": {"depends_on": ["api"]}, "worker": {"depends_on": ["api"]}})
    inv = inventory([{"service": "db", "state": "exited", "exit_code": 1},
                     {"service": "cache", "state": "running"},
                     {"service": "api", "state": "running"},
                     {"service": "web", "state": "exited", "exit_code": 1},
                     {"service": "worker", "state": "running"}])
    got = _by(expected_vs_actual(cat, inv, project="p"))
    assert [s for s in got if got[s]["root_cause"]] == ["db"]
    assert got["web"]["is_down"] and not got["web"]["root_cause"]
    assert got["web"]["blocked_by"] == ["db"] and got["worker"]["blocked_by"] == ["db"]
    assert got["api"]["blocked_by"] == ["db"]
    assert got["db"]["blocks"] == ["api", "web", "worker"]
    assert got["cache"]["blocked_by"] == [] and got["cache"]["blocks"] == []


def test_two_roots_diamond():
    cat = catalog({"a": {}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["a"]},
                   "d": {"depends_on": ["b", "c"]}, "x": {}})
    inv = inventory([{"service": "b", "state": "running"}, {"service": "c", "state": "exited", "exit_code": 2},
                     {"service": "d", "state": "exited", "exit_code": 1}, {"service": "x", "state": "exited"}])
    got = _by(expected_vs_actual(cat, inv, project="p"))
    assert sorted(s for s in got if got[s]["root_cause"]) == ["a", "x"]
    assert got["d"]["blocked_by"] == ["a"] and got["c"]["blocked_by"] == ["a"]
    assert got["a"]["blocks"] == ["b", "c", "d"]


def test_completed_one_shot_is_up_and_profiles():
    cat = catalog({"migrate": {}, "api": {"depends_on": [dep("migrate", "service_completed_successfully")]},
                   "debug": {"profiles": ["debug"]}})
    inv = inventory([{"service": "migrate", "state": "exited", "exit_code": 0},
                     {"service": "api", "state": "running"}])
    got = _by(expected_vs_actual(cat, inv, project="p", active_profiles=[]))
    assert got["migrate"]["is_up"] and not got["migrate"]["root_cause"]
    assert not got["debug"]["expected"] and not got["debug"]["is_down"]
    got = _by(expected_vs_actual(cat, inv, project="p", active_profiles=["debug"]))
    assert got["debug"]["expected"] and got["debug"]["root_cause"]


def test_tier_readiness():
    cat = catalog({"db": {"tier": "infrastructure", "image": "postgres://u:hunter2pw@h/db"},
                   "api": {"depends_on": ["db"]}})
    inv = inventory([{"service": "db", "state": "running", "health": "healthy"}])
    st = expected_vs_actual(cat, inv, project="p")
    assert "image" in st.columns
    assert readiness_text(st) == "Infrastructure 1/1, Application 0/1"
    assert list(st.loc[st["service"] == "api", "blocked_by"]) == [[]]  # db is up: api is down on its own


def test_cycle_does_not_hang():
    cat = catalog({"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}})
    got = _by(expected_vs_actual(cat, inventory([]), project="p"))
    assert got["a"]["root_cause"] and got["b"]["root_cause"]
