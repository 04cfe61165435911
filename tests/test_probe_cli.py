"""`runbook probe` end to end: compose file → derived probes → real servers → table / JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from servers import free_port, http_stub, postgres_server, redis_server  # noqa: F401

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RUNBOOK_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "runbook_lib", "probe", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def _compose(tmp_path: Path, pg, rd, stub, wrong_pg: bool = False) -> Path:
    f = tmp_path / "docker-compose.yml"
    f.write_text(textwrap.dedent(f"""
        name: rbtprobecli
        services:
          db:
            image: postgres:15
            environment:
              POSTGRES_USER: {pg.user}
              POSTGRES_PASSWORD: {"wrong-" if wrong_pg else ""}{pg.password}
              POSTGRES_DB: {pg.dbname}
            ports: ["127.0.0.1:{pg.port}:5432"]
          cache:
            image: redis:7-alpine
            command: ["redis-server", "--requirepass", "{rd.password}"]
            ports: ["127.0.0.1:{rd.port}:6379"]
          api:
            build: .
            ports: ["127.0.0.1:{stub.port}:3000"]
    """))
    return f


def test_probe_json_all_up(tmp_path, postgres_server, redis_server, http_stub):
    f = _compose(tmp_path, postgres_server, redis_server, http_stub)
    proc = _run("--compose", str(f), "--json", "--timeout", "2", cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, [(r["service"], r["kind"], r["state"], r["error"]) for r in out["rows"]]
    rows = {(r["service"], r["kind"]): r for r in out["rows"]}
    assert rows[("db", "postgres")]["state"] == "up"
    assert rows[("cache", "redis")]["state"] == "up"
    api = rows[("api", "http")]
    assert api["state"] == "up" and api["target"].endswith("/health") and len(api["detail"]) == 3
    assert out["summary"]["probes_by_state"]["down"] == 0
    assert out["endpoint_audit"]["by_path"]["/health"] == ["api"]
    for secret in (postgres_server.password, redis_server.password):
        assert secret not in proc.stdout and secret not in proc.stderr


def test_probe_table_wrong_password_exit_1(tmp_path, postgres_server, redis_server, http_stub):
    f = _compose(tmp_path, postgres_server, redis_server, http_stub, wrong_pg=True)
    proc = _run("-f", str(f), cwd=tmp_path)
    assert proc.returncode == 1
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("db ") and " postgres " in ln][0]
    assert " down " in line and "authentication failed" in line
    assert "checks:" in proc.stdout
    assert postgres_server.password not in proc.stdout + proc.stderr


def test_probe_config_adds_probe(tmp_path, http_stub, postgres_server, redis_server):
    f = _compose(tmp_path, postgres_server, redis_server, http_stub)
    (tmp_path / "runbook.yaml").write_text(
        f"probes:\n  api:\n    - kind: http\n      port: {http_stub.port}\n      path: /api/v1/health\n"
        f"  outside:\n    - kind: tcp\n      port: {free_port()}\n")
    proc = _run("--compose", str(f), "--json", cwd=tmp_path)
    out = json.loads(proc.stdout)
    rows = {(r["service"], r["kind"]): r for r in out["rows"]}
    assert rows[("api", "http")]["state"] == "degraded"  # Terminus: kafka down
    assert rows[("outside", "tcp")]["state"] == "down"
    assert proc.returncode == 1


def test_probe_stack_for_collector_and_summary(tmp_path, postgres_server, redis_server, http_stub):
    from runbook_lib.history.collector import default_probe_func
    from runbook_lib.probes import rows as probe_rows
    from runbook_lib.probes import stack_round
    from runbook_lib.stack import gather
    f = _compose(tmp_path, postgres_server, redis_server, http_stub)
    rows, notes = default_probe_func([str(f)], None, None, None, 5.0)()
    assert list(rows.columns) == probe_rows.PROBE_COLUMNS
    assert set(rows[rows["kind"] != "docker"]["state"]) == {"up"}
    res = stack_round.probe_stack(gather("unix:///nonexistent/docker.sock", compose_files=[str(f)],
                                         engine_timeout_s=1.0))
    assert not res.engine_ok
    summary = stack_round.stack_summary(res)
    assert summary["status"] == "degraded" and summary["degraded_reasons"]
    assert summary["probes_by_state"]["up"] == 3  # published endpoints still probed
    assert summary["endpoint_audit"]["standard_path"] == "/health"


def test_discovery_cache_pins_working_path(tmp_path, postgres_server, redis_server, http_stub):
    from runbook_lib.probes.discovery import DiscoveryCache
    from runbook_lib.probes.stack_round import probe_stack
    from runbook_lib.stack import gather
    f = _compose(tmp_path, postgres_server, redis_server, http_stub)
    cache = DiscoveryCache()
    first = probe_stack(gather(compose_files=[str(f)]), discovery=cache)
    assert len([s for s in first.specs if s.service == "api"]) == 5
    assert list(cache.paths.values()) == ["/health"]
    second = probe_stack(gather(compose_files=[str(f)]), discovery=cache)
    api = [s for s in second.specs if s.service == "api"]
    assert [s.path for s in api] == ["/health"] and api[0].options["pinned"]
    assert second.rows[second.rows["service"] == "api"].iloc[0]["state"] == "up"
    http_stub.routes.pop("/health")  # the pinned path stops answering → rediscover next round
    third = probe_stack(gather(compose_files=[str(f)]), discovery=cache)
    assert third.rows[third.rows["service"] == "api"].iloc[0]["state"] == "down"
    assert cache.paths == {}
