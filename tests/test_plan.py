"""Recovery plan: only what needs it, dependencies first, conditions, cycles, missing deps."""
from __future__ import annotations

import pytest
from recovery_helpers import catalog, dep, hc, inventory

from runbook_lib.exceptions import ComposeError
from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.analysis.plan import MIN_TIMEOUT_S, recovery_plan, wait_timeout_s


def _plan(cat, inv, **kw):
    return recovery_plan(cat, expected_vs_actual(cat, inv, project="p"), project="p", **kw)


def _steps(plan):
    return [(int(r.wave), r.service, r.action, r.condition) for r in plan.itertuples()]


def test_chain_db_api_web():
    cat = catalog({"db": {"healthcheck": hc(interval_s=5, retries=4, start_period_s=10, timeout_s=2)},
                   "api": {"depends_on": [dep("db", "service_healthy")], "healthcheck": hc()},
                   "web": {"depends_on": ["api"]}})
    inv = inventory([{"service": s, "state": "exited", "exit_code": 1} for s in ("db", "api", "web")])
    plan = _plan(cat, inv)
    assert _steps(plan) == [(1, "db", "start", None), (1, "db", "wait", "healthy"),
                            (2, "api", "start", None), (2, "api", "wait", "healthy"),
                            (3, "web", "start", None), (3, "web", "wait", "started")]
    assert list(plan["step"]) == [1, 2, 3, 4, 5, 6]
    assert plan.iloc[1]["timeout_s"] == 5 * 4 + 10 + 2
    assert plan.iloc[0]["command"] == "docker start p-db-1"


def test_diamond_only_what_needs_it():
    # a <- b, a <- c, (b, c) <- d ; a and d down, b and c running fine
    cat = catalog({"a": {"healthcheck": hc()}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["a"]},
                   "d": {"depends_on": ["b", "c"]}})
    inv = inventory([{"service": "a", "state": "running", "health": "unhealthy"},
                     {"service": "b", "state": "running"}, {"service": "c", "state": "running"},
                     {"service": "d", "state": "exited", "exit_code": 1}])
    plan = _plan(cat, inv)
    assert _steps(plan) == [(1, "a", "restart", None), (1, "a", "wait", "healthy"),
                            (2, "d", "start", None), (2, "d", "wait", "started")]
    assert "b" not in set(plan["service"]) and "c" not in set(plan["service"])


def test_diamond_all_down_waves():
    cat = catalog({"a": {}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["a"]},
                   "d": {"depends_on": ["b", "c"]}})
    inv = inventory([{"service": s, "state": "exited", "exit_code": 1} for s in "abcd"])
    waves = {r.service: r.wave for r in _plan(cat, inv).itertuples()}
    assert waves == {"a": 1, "b": 2, "c": 2, "d": 3}


def test_nothing_to_do():
    cat = catalog({"db": {"healthcheck": hc()}, "api": {"depends_on": ["db"]}})
    inv = inventory([{"service": "db", "state": "running", "health": "healthy"},
                     {"service": "api", "state": "running"}])
    plan = _plan(cat, inv)
    assert len(plan) == 0 and "wave" in plan.columns


def test_conditions_healthy_started_completed():
    cat = catalog({"db": {"healthcheck": hc()}, "cache": {}, "migrate": {},
                   "api": {"depends_on": [dep("db", "service_healthy"), dep("cache", "service_started"),
                                          dep("migrate", "service_completed_successfully")]}})
    inv = inventory([{"service": s, "state": "exited", "exit_code": 1} for s in ("db", "cache", "migrate", "api")])
    waits = {r.service: r.condition for r in _plan(cat, inv).itertuples() if r.action == "wait"}
    assert waits == {"db": "healthy", "cache": "started", "migrate": "completed", "api": "started"}


def test_completed_job_is_not_rerun_and_starting_is_waited_for():
    cat = catalog({"migrate": {}, "db": {"healthcheck": hc()},
                   "api": {"depends_on": [dep("migrate", "service_completed_successfully"),
                                          dep("db", "service_healthy")]}})
    inv = inventory([{"service": "migrate", "state": "exited", "exit_code": 0},
                     {"service": "db", "state": "running", "health": "starting"},
                     {"service": "api", "state": "exited", "exit_code": 1}])
    assert _steps(_plan(cat, inv)) == [(1, "db", "wait", "healthy"), (2, "api", "start", None),
                                       (2, "api", "wait", "started")]


def test_wave_passes_through_healthy_middle():
    # db down, api fine, web down: web must still come after db
    cat = catalog({"db": {}, "api": {"depends_on": ["db"]}, "web": {"depends_on": ["api"]}})
    inv = inventory([{"service": "db", "state": "exited"}, {"service": "api", "state": "running"},
                     {"service": "web", "state": "exited"}])
    waves = {r.service: r.wave for r in _plan(cat, inv).itertuples()}
    assert waves == {"db": 1, "web": 2}


def test_restart_true_propagates_to_a_healthy_dependent():
    cat = catalog({"db": {"healthcheck": hc()}, "api": {"depends_on": [dep("db", "service_healthy", restart=True)]},
                   "web": {"depends_on": ["db"]}})
    inv = inventory([{"service": "db", "state": "running", "health": "unhealthy"},
                     {"service": "api", "state": "running"}, {"service": "web", "state": "running"}])
    plan = _plan(cat, inv)
    acts = {(r.service, r.action) for r in plan.itertuples() if r.action != "wait"}
    assert acts == {("db", "restart"), ("api", "restart")}  # web is fine and not restarted
    assert "restart: true" in plan[(plan.service == "api") & (plan.action == "restart")].iloc[0]["reason"]


def test_not_created_is_a_manual_step():
    cat = catalog({"db": {}, "api": {"depends_on": ["db"]}})
    inv = inventory([{"service": "api", "state": "exited", "exit_code": 1}])
    plan = _plan(cat, inv)
    first = plan.iloc[0]
    assert first["service"] == "db" and first["manual"] and first["container"] is None
    assert first["command"] == "docker compose -p p up -d db" and "docker compose -p p up -d db" in first["reason"]


def test_cycle_names_its_members():
    cat = catalog({"a": {"depends_on": ["c"]}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]},
                   "ok": {}})
    with pytest.raises(ComposeError) as err:
        _plan(cat, inventory([]))
    msg = str(err.value)
    assert "cycle" in msg and all(s in msg for s in ("'a'", "b", "c")) or all(s in msg for s in "abc")
    assert "Fix:" in msg


def test_missing_dependency_names_file_service_and_fix():
    cat = catalog({"api": {"depends_on": ["db"], "file": "compose.app.yml"}})
    with pytest.raises(ComposeError) as err:
        _plan(cat, inventory([]))
    msg = str(err.value)
    assert "compose.app.yml" in msg and "'api'" in msg and "'db'" in msg and "Fix:" in msg


def test_missing_optional_dependency_is_ignored():
    cat = catalog({"api": {"depends_on": [dep("db", required=False)]}})
    plan = _plan(cat, inventory([{"service": "api", "state": "exited"}]))
    assert _steps(plan) == [(1, "api", "start", None), (1, "api", "wait", "started")]


def test_timeouts_and_budget():
    assert wait_timeout_s({"interval_s": None, "retries": None}, "healthy") == 90.0  # docker defaults 30 s * 3
    assert wait_timeout_s({"interval_s": 1, "retries": 1}, "healthy") == MIN_TIMEOUT_S
    assert wait_timeout_s(None, "started") == 30.0
    cat = catalog({"db": {"healthcheck": hc(interval_s=10, retries=5)}})
    plan = _plan(cat, inventory([{"service": "db", "state": "exited"}]), budget_s=7)
    assert plan.iloc[1]["timeout_s"] == 7.0


def test_plan_of_500_services_is_ordered():
    import random
    rnd = random.Random(3)
    names = [f"s{i}" for i in range(500)]
    cat = catalog({n: {"depends_on": rnd.sample(names[:i], min(i, 3)), "healthcheck": hc() if i % 2 else None}
                   for i, n in enumerate(names)})
    inv = inventory([{"service": n, "state": "exited", "exit_code": 1} for n in names])
    plan = _plan(cat, inv)
    wave = {r.service: r.wave for r in plan.itertuples()}
    deps = dict(zip(cat["service"], cat["depends_on"]))
    assert all(wave[d["service"]] < wave[s] for s in names for d in deps[s])


# -- the fixture stack (tests/fixtures/ledgerline-erp) ------------------------------------

def _fixture_sets(root):
    files = sorted(root.rglob("*.yml"))
    sets = [[f] for f in files]
    main = root / "docker-compose.yml"
    sets += [[main, root / "docker-compose.prod.yml"], [main, root / "docker-compose.monitoring.yml"]]
    return sets


def test_every_fixture_plans_in_dependency_order(fixtures_dir):
    from runbook_lib.compose import catalog as compose
    for files in _fixture_sets(fixtures_dir):
        cat = compose.load_catalog(files, project_name="vextrus")
        status = expected_vs_actual(cat.frame, inventory([], project="vextrus"), project="vextrus")
        assert set(status["actual"]) == {"not-created"} and status["root_cause"].any()
        plan = recovery_plan(cat.frame, status, project="vextrus")
        assert set(plan["service"]) == set(cat.frame["service"]), files
        assert plan["manual"].sum() == len(cat.frame)  # nothing exists: compose must create them
        wave = {r.service: r.wave for r in plan.itertuples()}
        for s, deps in zip(cat.frame["service"], cat.frame["depends_on"]):
            assert all(wave[d["service"]] < wave[s] for d in deps if d["service"] in wave), (files, s)


def test_fixture_postgres_oom_is_the_one_root_cause(fixtures_dir):
    from runbook_lib.compose import catalog as compose
    cat = compose.load_catalog([fixtures_dir / "docker-compose.yml"], project_name="vextrus").frame
    inv = inventory([{"service": s, "state": "running", "health": "healthy" if h else "none"}
                     for s, h in zip(cat["service"], cat["has_healthcheck"]) if s != "postgres"]
                    + [{"service": "postgres", "state": "exited", "exit_code": 137, "oom_killed": True}],
                    project="vextrus")
    status = expected_vs_actual(cat, inv, project="vextrus")
    roots = status[status["root_cause"]]
    assert list(roots["service"]) == ["postgres"] and "OOM killed" in roots.iloc[0]["detail"]
    assert {"auth", "temporal", "db-migrate", "api-gateway"} <= set(roots.iloc[0]["blocks"])
    plan = recovery_plan(cat, status, project="vextrus")
    assert _steps(plan) == [(1, "postgres", "start", None), (1, "postgres", "wait", "healthy")]
    assert plan.iloc[1]["timeout_s"] == 10 * 5 + 5  # interval * retries + timeout from its healthcheck


def test_plan_graph_figure_colours_states_and_escapes_names():
    from runbook_lib.view.plots import plan_graph_figure
    from runbook_lib.view.render import STATE_COLORS
    evil = '"><img src=x onerror=alert(1)>'
    cat = catalog({"db": {}, "api": {"depends_on": ["db"]}, evil: {"depends_on": ["api"]}})
    inv = inventory([{"service": "db", "state": "exited", "exit_code": 1}, {"service": "api", "state": "running"}])
    status = expected_vs_actual(cat, inv, project="p")
    fig = plan_graph_figure(status, recovery_plan(cat, status))
    nodes = {t.name: t for t in fig.data if t.mode == "markers+text"}
    assert set(nodes) == {"exited", "running-no-healthcheck", "not-created"}
    assert nodes["exited"].marker.color == STATE_COLORS["exited"] and nodes["exited"].text == ("db (wave 1)",)
    assert nodes["exited"].marker.line.width == (3,)  # db is the root cause
    text = fig.to_json()
    assert "<img" not in text and "&lt;img" in text
    assert len(plan_graph_figure(status.iloc[0:0]).data) == 0
