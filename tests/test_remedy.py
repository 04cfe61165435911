"""Issue 11, pure frames: remedy classes, exact blocked-by per condition, symptom folding,
crash loops counted down, and the plan built from the diagnosis."""
from __future__ import annotations

import pandas as pd
import pytest
from recovery_helpers import catalog, dep, hc, inventory

from runbook_lib.analysis.blocked import blocked, condition_met, with_blocked
from runbook_lib.analysis.diagnosis import FINDING_COLUMNS
from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.analysis.fold import crash_loops, down_services, fold, root_services
from runbook_lib.analysis.plan import plan_from_diagnosis
from runbook_lib.analysis.remedy import REMEDIES, remedy_for, with_remedies

NOW = pd.Timestamp("2026-11-29T04:00:00Z")


def finding(service, category, kind="cause", root=True, severity="high", evidence=None, details=None, fix="fix it"):
    row = {c: None for c in FINDING_COLUMNS}
    row.update(service=service, container=f"p-{service}-1", category=category, title=category, severity=severity,
               kind=kind, cause=f"{category} in {service}", fix=fix, evidence=evidence or [f"{category} line"],
               root_cause=root, blocked_by=[], blocks=[], match_count=1, source="log", details=details or [])
    return row


def frame(*rows):
    return pd.DataFrame(list(rows), columns=FINDING_COLUMNS)


# -- remedy classes -------------------------------------------------------------------
@pytest.mark.parametrize("category,remedy", [
    ("unclassified", "restart"), ("crash-loop", "restart"), ("connection-refused", "restart"),
    ("localhost-connection-refused", "recreate"), ("healthcheck-command-missing", "recreate"), ("oom", "recreate"),
    ("missing-env-var", "recreate"), ("missing-module", "rebuild"), ("typescript-compile-error", "rebuild"),
    ("db-auth-failure", "external"), ("disk-full", "external"), ("no-such-category", "restart"),
])
def test_each_remedy_class(category, remedy):
    assert remedy_for(finding("svc", category)) == remedy
    assert remedy in REMEDIES


def test_dns_failure_remedy_depends_on_the_host():
    def dns(host):
        return finding("api", "dns-failure", details=[{"dnshost": host}])
    assert remedy_for(dns("postgres"), ["postgres", "api"]) == "restart"     # a dependency that was down
    assert remedy_for(dns("postgress"), ["postgres", "api"]) == "recreate"   # a typo in the compose file
    assert remedy_for(dns("api.example.com"), ["postgres", "api"]) == "external"


def test_with_remedies_adds_ids():
    out = with_remedies(frame(finding("auth", "missing-module")))
    assert list(out["finding_id"]) == ["auth:missing-module"] and list(out["remedy"]) == ["rebuild"]


# -- blocked-by: each depends_on condition ----------------------------------------------
@pytest.mark.parametrize("condition,actual,exit_code,met", [
    ("service_started", "running-unhealthy", None, True),
    ("service_started", "running-starting", None, True),
    ("service_started", "running-healthy", None, True),
    ("service_started", "exited", 1, False),
    ("service_started", "restarting", None, False),
    ("service_healthy", "running-healthy", None, True),
    ("service_healthy", "running-unhealthy", None, False),
    ("service_healthy", "running-no-healthcheck", None, False),
    ("service_completed_successfully", "exited", 0, True),
    ("service_completed_successfully", "exited", 1, False),
    ("service_completed_successfully", "running-no-healthcheck", None, False),
])
def test_condition_met(condition, actual, exit_code, met):
    assert condition_met(condition, actual, exit_code) is met


def _status(cat, containers):
    return expected_vs_actual(cat, inventory(containers), project="p")


def test_blocked_by_follows_each_condition():
    cat = catalog({
        "broker": {"healthcheck": hc()}, "db": {"healthcheck": hc()}, "migrate": {},
        "started": {"depends_on": [dep("broker", "service_started")]},
        "healthy": {"depends_on": [dep("broker", "service_healthy")]},
        "after-job": {"depends_on": [dep("migrate", "service_completed_successfully")]},
        "optional": {"depends_on": [dep("db", "service_healthy", required=False)]},
        "needs-db": {"depends_on": [dep("db", "service_healthy")]},
    })
    st = _status(cat, [
        {"service": "broker", "state": "running", "health": "unhealthy"},
        {"service": "db", "state": "exited", "exit_code": 1},
        {"service": "migrate", "state": "exited", "exit_code": 2},
        *[{"service": s, "state": "exited", "exit_code": 1} for s in ("started", "healthy", "after-job",
                                                                        "optional", "needs-db")],
    ])
    b = blocked(cat, st, roots={"broker", "db", "migrate"}).set_index("service")
    assert b.at["started", "blocked_by"] == []              # a running (unhealthy) broker meets service_started
    assert b.at["healthy", "blocked_by"] == ["broker"]      # service_healthy needs healthy
    assert b.at["after-job", "blocked_by"] == ["migrate"]   # exit 2 is not a success
    assert b.at["optional", "blocked_by"] == []             # required: false never blocks
    assert b.at["needs-db", "upstream_root_causes"] == ["db"]  # a direct dependency that is a root cause
    assert b.at["db", "blocks"] == ["needs-db"]


def test_upstream_root_causes_are_transitive_and_include_the_direct_root():
    cat = catalog({"db": {"healthcheck": hc()}, "api": {"depends_on": [dep("db", "service_healthy")],
                                                         "healthcheck": hc()},
                   "web": {"depends_on": [dep("api", "service_healthy")]}})
    st = _status(cat, [{"service": "db", "state": "exited", "exit_code": 1},
                       {"service": "api", "state": "exited", "exit_code": 1},
                       {"service": "web", "state": "exited", "exit_code": 1}])
    out = with_blocked(st, cat, roots={"db", "api"}).set_index("service")
    assert out.at["web", "blocked_by"] == ["api"] and out.at["web", "upstream_root_causes"] == ["api", "db"]
    assert out.at["api", "upstream_root_causes"] == ["db"] and bool(out.at["api", "root_cause"])


# -- symptom folding -------------------------------------------------------------------
def test_crash_loop_folds_into_its_cause():
    f = fold(frame(finding("workflow", "typescript-compile-error"),
                   finding("workflow", "crash-loop", kind="symptom", evidence=["restart_count=5"])))
    assert len(f) == 1 and f.iloc[0]["category"] == "typescript-compile-error" and f.iloc[0]["root_cause"]
    assert f.iloc[0]["folded"] == ["crash-loop"] and "(crash-loop) restart_count=5" in f.iloc[0]["evidence"]


def test_crash_loop_alone_stays_a_root_cause():
    f = fold(frame(finding("worker", "crash-loop", kind="symptom"),
                   finding("worker", "healthcheck-failing", kind="symptom")))
    assert list(f["category"]) == ["crash-loop"] and bool(f.iloc[0]["root_cause"])


def test_symptoms_of_a_root_cause_fold_and_refused_connection_to_a_down_dependency_is_not_a_cause():
    cat = catalog({"auth": {}, "gw": {"depends_on": [dep("auth")], "healthcheck": hc()},
                   "web": {"depends_on": [dep("auth")]}})
    st = _status(cat, [{"service": "auth", "state": "exited", "exit_code": 1},
                       {"service": "gw", "state": "running", "health": "unhealthy"},
                       {"service": "web", "state": "running"}])
    f = fold(frame(finding("auth", "missing-module"),
                   finding("gw", "localhost-connection-refused"),
                   finding("gw", "connection-refused", kind="symptom", root=False),
                   finding("gw", "healthcheck-failing", kind="symptom", root=False),
                   finding("web", "connection-refused", kind="symptom", root=True)), st, cat)
    assert f["service"].is_unique
    rows = f.set_index("service")
    assert rows.at["gw", "category"] == "localhost-connection-refused" and rows.at["gw", "root_cause"]
    assert set(rows.at["gw", "folded"]) == {"connection-refused", "healthcheck-failing"}
    assert not rows.at["web", "root_cause"] and rows.at["web", "blocked_by"] == ["auth"]
    assert rows.at["auth", "blocks"] == ["gw", "web"]
    assert root_services(f) == ["auth", "gw"]
    pd.testing.assert_frame_equal(fold(f, st, cat), f)  # idempotent


def test_crash_looping_container_that_reads_running_counts_down():
    cat = catalog({"workflow": {}, "steady": {}, "ok": {"healthcheck": hc()}})
    inv = inventory([{"service": "workflow", "state": "running", "restart_count": 4,
                      "started_at": NOW - pd.Timedelta(seconds=3)},
                     {"service": "steady", "state": "running", "restart_count": 2,
                      "started_at": NOW - pd.Timedelta(hours=2)},
                     {"service": "ok", "state": "running", "health": "healthy", "restart_count": 1,
                      "started_at": NOW - pd.Timedelta(seconds=3)}])
    st = crash_loops(expected_vs_actual(cat, inv, project="p"), inv, now=NOW)
    assert down_services(st) == ["workflow"]
    assert st.set_index("service").at["workflow", "actual"] == "restarting"
    grew = crash_loops(expected_vs_actual(cat, inv, project="p"), inv, now=NOW, previous={"steady": 1})
    assert "steady" in down_services(grew)  # grew since the previous sample, however long ago it started


# -- the plan follows the diagnosis -----------------------------------------------------
def _demo_like():
    cat = catalog({"db": {"healthcheck": hc()},
                   "auth": {"depends_on": [dep("db", "service_healthy")], "healthcheck": hc()},
                   "built": {"build": True},
                   "gw": {"depends_on": [dep("auth")], "healthcheck": hc()},
                   "flaky": {}, "creds": {}})
    inv = inventory([{"service": "db", "state": "running", "health": "healthy"},
                     {"service": "auth", "state": "exited", "exit_code": 1},
                     {"service": "built", "state": "exited", "exit_code": 1},
                     {"service": "gw", "state": "running", "health": "unhealthy"},
                     {"service": "flaky", "state": "exited", "exit_code": 1},
                     {"service": "creds", "state": "exited", "exit_code": 1}])
    st = expected_vs_actual(cat, inv, project="p")
    findings = fold(frame(finding("auth", "missing-module"), finding("built", "typescript-compile-error"),
                          finding("gw", "localhost-connection-refused"),
                          finding("gw", "healthcheck-failing", kind="symptom", root=False),
                          finding("flaky", "unclassified", kind="symptom"),
                          finding("creds", "db-auth-failure")), st, cat)
    return findings, st, cat


def test_plan_from_diagnosis_fix_first_then_recreate_or_rebuild():
    findings, st, cat = _demo_like()
    plan = plan_from_diagnosis(findings, st, cat, project="p", compose_files=["/x/dc.yml"])
    steps = {s: list(plan.loc[plan["service"] == s, "action"]) for s in plan["service"].unique()}
    assert steps["flaky"] == ["start", "wait"]                           # restart class: no fix step
    assert steps["auth"] == ["fix", "recreate", "wait"]                  # rebuild, no build: section
    assert steps["built"] == ["fix", "build", "recreate", "wait"]        # rebuild with a build: section
    assert steps["gw"] == ["fix", "recreate", "wait"]                    # config: recreate, never restart
    assert steps["creds"] == ["fix", "start", "wait"]                    # external: fixed outside, then start
    assert plan.attrs["root_causes"] == root_services_sorted(findings)
    gw = plan[plan["service"] == "gw"]
    assert gw.iloc[1]["command"] == "docker compose -p p -f /x/dc.yml up -d --no-deps gw"
    assert set(gw["finding"]) == {"gw:localhost-connection-refused"} and set(gw["remedy"]) == {"recreate"}
    assert plan.loc[(plan["service"] == "built") & (plan["action"] == "build"), "command"].iloc[0] == \
        "docker compose -p p -f /x/dc.yml build built"
    assert plan[plan["action"] == "fix"]["manual"].all() and not plan[plan["action"] != "fix"]["manual"].any()
    # gw waits behind auth's recreate; within a wave the services that need no person come first
    wave = dict(zip(plan["service"], plan["wave"]))
    assert wave["gw"] > wave["auth"]
    first_wave = list(dict.fromkeys(plan.loc[plan["wave"] == 1, "service"]))
    assert first_wave[0] == "flaky"
    assert not (plan["action"] == "restart").any()


def root_services_sorted(findings):
    return sorted(root_services(findings))


def test_plan_from_diagnosis_not_created_is_created_by_compose():
    cat = catalog({"db": {}, "api": {"depends_on": ["db"]}})
    st = expected_vs_actual(cat, inventory([{"service": "api", "state": "exited", "exit_code": 1}]), project="p")
    findings = fold(frame(finding("db", "not-created")), st, cat)
    plan = plan_from_diagnosis(findings, st, cat, project="p", compose_files=["dc.yml"])
    assert list(plan.loc[plan["service"] == "db", "action"]) == ["recreate", "wait"]
    assert not plan["manual"].any()


def test_plan_from_empty_diagnosis_is_empty():
    cat = catalog({"db": {"healthcheck": hc()}})
    st = expected_vs_actual(cat, inventory([{"service": "db", "state": "running", "health": "healthy"}]),
                            project="p")
    plan = plan_from_diagnosis(frame(), st, cat, project="p")
    assert len(plan) == 0 and {"remedy", "finding"} <= set(plan.columns) and plan.attrs["root_causes"] == []
