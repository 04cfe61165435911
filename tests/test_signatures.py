"""Log signatures: one test per signature on real-world-shaped text, field signatures, masking, bulk."""
from __future__ import annotations

import time
import tracemalloc
import uuid

import pandas as pd
import pytest

from runbook_lib import redact
from runbook_lib.analysis import logmatch, signatures as sig
from runbook_lib.analysis.classify import classify
from runbook_lib.analysis.signatures import MatchContext, Signature, match_lines

STACK = MatchContext(
    service="auth",
    port_services={5432: ("postgres",), 6379: ("redis",), 9092: ("kafka",), 9093: ("kafka",),
                   7233: ("temporal",), 3001: ("auth",), 3000: ("web",)},
    services=frozenset({"postgres", "redis", "kafka", "temporal", "auth", "web", "zookeeper"}),
)

# category -> list of (source, lines, index of the line that must match, text expected in cause+fix)
CASES: dict[str, list[tuple[str, list[str], int, str]]] = {
    "missing-module": [
        ("log", ["node:internal/modules/cjs/loader:1080",
                 "  throw err;",
                 "Error: Cannot find module '@opentelemetry/api'",
                 "Require stack:",
                 "- /app/node_modules/@opentelemetry/sdk-node/build/src/sdk.js",
                 "- /app/dist/tracing.js",
                 "    at Module._resolveFilename (node:internal/modules/cjs/loader:1077:15) {",
                 "  code: 'MODULE_NOT_FOUND',"], 2, "`@opentelemetry/api`"),
        ("log", ["Traceback (most recent call last):", '  File "/app/main.py", line 3, in <module>',
                 "    import psycopg", "ModuleNotFoundError: No module named 'psycopg'"], 3, "`psycopg`"),
        ("log", ["node:internal/errors:496",
                 "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'kafkajs' imported from /app/dist/main.js"],
         1, "`kafkajs`"),
    ],
    "typescript-compile-error": [
        ("log", ["> workflow@1.0.0 start", "> ts-node src/main.ts",
                 "src/activities/index.ts(12,5): error TS2339: Property 'sendEmail' does not exist on type "
                 "'typeof import(\"/app/src/activities/email\")'."], 2, "src/activities/index.ts:12"),
        ("log", ["\x1b[96msrc/workflows/invoice-approval.workflow.ts\x1b[0m:\x1b[93m3\x1b[0m:\x1b[93m28\x1b[0m - "
                 "\x1b[91merror\x1b[0m\x1b[90m TS2307: \x1b[0mCannot find module '@temporalio/workflow' or its "
                 "corresponding type declarations.", "", "Found 1 error. Watching for file changes."],
         0, "TS2307 in src/workflows/invoice-approval.workflow.ts:3"),
        ("log", ["TSError: ⨯ Unable to compile TypeScript:",
                 "src/main.ts:5:1 - error TS2304: Cannot find name 'bootstrapp'."], 1, "TS2304"),
    ],
    "localhost-connection-refused": [
        ("log", ["[Nest] 1  - 09/21/2025, 10:14:03 AM   ERROR [TypeOrmModule] Unable to connect to the database. "
                 "Retrying (3)...", "Error: connect ECONNREFUSED 127.0.0.1:5432",
                 "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)"], 1, "`postgres:5432`"),
        ("log", ["[ioredis] Unhandled error event: Error: connect ECONNREFUSED 127.0.0.1:6379"], 0, "`redis:6379`"),
        ("log", ['psycopg.OperationalError: connection failed: connection to server at "127.0.0.1", port 5432 '
                 'failed: Connection refused'], 0, "`postgres:5432`"),
        ("log", ["2025/09/21 10:00:00 Failed to dial: dial tcp 127.0.0.1:7233: connect: connection refused"],
         0, "`temporal:7233`"),
        ("log", ["[2025-09-21 10:00:00,123] WARN [AdminClient clientId=adminclient-1] Connection to node -1 "
                 "(localhost/127.0.0.1:9092) could not be established. Broker may not be available. "
                 "(org.apache.kafka.clients.NetworkClient)"], 0, "`kafka:9092`"),
        ("log", ['{"level":"ERROR","timestamp":"2025-09-21T10:00:00.000Z","logger":"kafkajs","message":'
                 '"[Connection] Connection error: connect ECONNREFUSED 127.0.0.1:9092","broker":"localhost:9092"}'],
         0, "`kafka:9092`"),
    ],
    "dns-failure": [
        ("log", ["Error: getaddrinfo ENOTFOUND kafka", "    at GetAddrInfoReqWrap.onlookup [as oncomplete] "
                 "(node:dns:107:26) {", "  errno: -3008,", "  code: 'ENOTFOUND',"], 0, "`kafka` is a service"),
        ("log", ["Error: getaddrinfo EAI_AGAIN redis"], 0, "`redis`"),
        ("log", ['psql: error: could not translate host name "postgress" to address: Name or service not known'],
         0, "`postgress` does not resolve"),
        ("log", ["socket.gaierror: [Errno -2] Name or service not known"], 0, "a host name does not resolve"),
        ("log", ["ping: kafak: Name or service not known"], 0, "`kafak` does not resolve (did you mean kafka?)"),
        ("log", ["curl: (6) Could not resolve host: redis"], 0, "`redis` is a service"),
        ("log", ["failed to connect: dial tcp: lookup temporal on 127.0.0.11:53: no such host"], 0, "`temporal`"),
        ("health", ["wget: bad address 'kafka:9093'"], 0, "`kafka` is a service"),
    ],
    "port-in-use": [
        ("log", ["node:events:497", "      throw er; // Unhandled 'error' event",
                 "Error: listen EADDRINUSE: address already in use :::3000"], 2, "port 3000"),
        ("log", ["2025/09/21 listen tcp :8080: bind: address already in use"], 0, "port 8080"),
        ("log", ["Error response from daemon: driver failed programming external connectivity on endpoint "
                 "vextrus-postgres: Bind for 0.0.0.0:5432 failed: port is already allocated"], 0, "port 5432"),
        ("log", ["httpd: bind: Address in use"], 0, "its port is already taken"),
    ],
    "db-auth-failure": [
        ("log", ['2025-09-21 10:00:00.123 UTC [88] FATAL:  password authentication failed for user "vextrus"',
                 '2025-09-21 10:00:00.123 UTC [88] DETAIL:  Connection matched pg_hba.conf line 100'],
         0, "user `vextrus`"),
        ("log", ["ReplyError: NOAUTH Authentication required."], 0, "credentials"),
        ("log", ["ReplyError: WRONGPASS invalid username-password pair or user is disabled."], 0, "credentials"),
        ("log", ["ERROR 1045 (28000): Access denied for user 'root'@'172.18.0.5' (using password: YES)"],
         0, "user `root`"),
    ],
    "kafka-broker-unavailable": [
        ("log", ['{"level":"ERROR","timestamp":"2025-09-21T10:00:00.000Z","logger":"kafkajs","message":'
                 '"[Connection] Response Metadata(key: 3, version: 6)","broker":"kafka:9093","clientId":"auth",'
                 '"error":"There is no leader for this topic-partition as we are in the middle of a leadership '
                 'election","correlationId":3,"size":96}'], 0, "partition leader"),
        ("log", ['{"level":"ERROR","timestamp":"2025-09-21T10:00:00.000Z","logger":"kafkajs","message":'
                 '"[BrokerPool] Failed to connect to seed broker, trying another broker from the list: '
                 'Connection error: connect ECONNREFUSED 172.18.0.7:9093","retryCount":0,"retryTime":292}'],
         0, "`172.18.0.7:9093`"),
        ("log", ["[2025-09-21 10:00:00,000] WARN [Producer clientId=producer-1] Connection to node 1 "
                 "(kafka/172.18.0.7:9093) could not be established. Broker may not be available."], 0, "kafka"),
        ("log", ["kafka.errors.NoBrokersAvailable: NoBrokersAvailable"], 0, "Kafka broker"),
    ],
    "healthcheck-command-missing": [
        ("health", ["/bin/sh: curl: not found"], 0, "`curl`"),
        ("health", ["/bin/sh: 1: curl: not found"], 0, "`curl`"),
        ("health", ['OCI runtime exec failed: exec failed: unable to start container process: exec: "curl": '
                    'executable file not found in $PATH: unknown'], 0, "`curl`"),
    ],
    "command-not-found": [
        ("log", ["/bin/sh: pnpm: not found"], 0, "`pnpm`"),
        ("log", ['exec /usr/local/bin/docker-entrypoint.sh: exec: "pnpm": executable file not found in $PATH'],
         0, "`pnpm`"),
    ],
    "missing-npm-script": [
        ("log", ['npm ERR! Missing script: "start:prod"', "npm ERR!",
                 "npm ERR! To see a list of scripts, run:"], 0, "`start:prod`"),
        ("log", [" ERR_PNPM_NO_SCRIPT  Missing script: start:prod"], 0, "`start:prod`"),
    ],
    "missing-env-var": [
        ("log", ['Error: Config validation error: "JWT_SECRET" is required. "DATABASE_PASSWORD" is required'],
         0, "`JWT_SECRET`"),
        ("log", ["Error: Environment variable DATABASE_URL is missing"], 0, "`DATABASE_URL`"),
        ("log", ["Missing required environment variable: KAFKA_BROKERS"], 0, "`KAFKA_BROKERS`"),
        ("log", ["Traceback (most recent call last):", "KeyError: 'REDIS_URL'"], 1, "`REDIS_URL`"),
    ],
    "permission-denied": [
        ("log", ["Error: EACCES: permission denied, open '/app/logs/audit.log'"], 0, "`/app/logs/audit.log`"),
        ("log", ["mkdir: can't create directory '/var/lib/postgresql/data/pgdata': Permission denied"],
         0, "Permission denied"),
        ("log", ["PermissionError: [Errno 13] Permission denied: '/data/export.csv'"], 0, "`/data/export.csv`"),
        ("log", ["chown: /bitnami/kafka/data: Operation not permitted"], 0, "access"),
    ],
    "oom": [
        ("log", ["<--- Last few GCs --->", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap "
                 "out of memory", " 1: 0xb7a940 node::Abort() [node]"], 1, "memory"),
        ("log", ['Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'], 0, "memory"),
    ],
    "timeout": [
        ("log", ["Error: connect ETIMEDOUT 10.20.0.5:443"], 0, "`10.20.0.5:443`"),
        ("log", ["AxiosError: timeout of 5000ms exceeded"], 0, "timed out"),
        ("log", ["psycopg.errors.ConnectionTimeout: connection timeout expired"], 0, "timed out"),
    ],
    "connection-refused": [
        ("log", ["Error: connect ECONNREFUSED 172.18.0.3:5432"], 0, "`172.18.0.3:5432`"),
        ("log", ["dial tcp 172.18.0.9:7233: connect: connection refused"], 0, "`172.18.0.9:7233`"),
    ],
    "disk-full": [
        ("log", ["Error: ENOSPC: no space left on device, write"], 0, "full"),
        ("log", ['2025-09-21 UTC [1] PANIC:  could not write to file "pg_wal/xlogtemp.33": No space left on '
                 'device'], 0, "full"),
    ],
    "engine-unreachable": [
        ("log", ['time="2025-09-21T10:00:00Z" level=error msg="Provider connection error Cannot connect to the '
                 'Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?, retrying in 4s" '
                 'providerName=docker'], 0, "engine"),
    ],
    "health-endpoint-missing": [
        ("health", ["Connecting to 127.0.0.1:3006 (127.0.0.1:3006)",
                    "wget: server returned error: HTTP/1.1 404 Not Found"], 1, "404"),
        ("health", ["curl: (22) The requested URL returned error: 404"], 0, "404"),
    ],
}
FLAT = [(cat, *case) for cat, cases in CASES.items() for case in cases]


def test_every_signature_has_cases_and_a_valid_entry():
    cats = [s.category for s in sig.SIGNATURES]
    assert len(cats) == len(set(cats)), "signature categories must be unique"
    assert set(cats) <= set(CASES), f"add test cases for {set(cats) - set(CASES)}"
    for s in sig.SIGNATURES:
        assert s.severity in sig.SEVERITIES and s.kind in ("cause", "symptom")
        assert s.compiled and all(n == n.lower() for n in s.needles)
    required = {"missing-module", "typescript-compile-error", "localhost-connection-refused", "dns-failure",
                "oom", "port-in-use", "permission-denied", "missing-env-var", "db-auth-failure",
                "kafka-broker-unavailable", "healthcheck-command-missing", "crash-loop", "slow-startup",
                "engine-unreachable", "unclassified"}
    assert required <= set(cats) | set(sig.FIELD_SIGNATURES)


@pytest.mark.parametrize("category,source,lines,index,expect", FLAT,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(FLAT)])
def test_signature(category, source, lines, index, expect):
    matches = match_lines(lines, STACK, source=source)
    hit = [m for m in matches if m.line_no == index]
    assert hit, f"no match on line {index}: {matches}"
    m = hit[0]
    assert m.category == category, (m.category, m.line)
    assert expect in m.cause + " " + m.fix + " " + m.line
    assert m.severity in sig.SEVERITIES and m.fix and "`?`" not in m.cause + m.fix


def test_templates_do_not_trip_the_masker(monkeypatch):
    """Causes and fixes are our prose: the secret masker's patterns must leave them whole."""
    monkeypatch.setattr(redact, "mask_text", redact.Redactor().mask_text)
    for category, source, lines, index, _ in FLAT:
        for m in match_lines(lines, STACK, source=source):
            assert redact.MASK not in m.cause + m.fix, (category, m.cause, m.fix)


def test_localhost_names_the_service_and_own_port():
    m = match_lines(["Error: connect ECONNREFUSED 127.0.0.1:5432"], STACK)[0]
    assert "call `postgres:5432` instead of localhost" in m.fix
    own = match_lines(["Error: connect ECONNREFUSED 127.0.0.1:3001"], STACK)[0]
    assert own.category == "localhost-connection-refused" and "own port" in own.fix
    unknown = match_lines(["Error: connect ECONNREFUSED 127.0.0.1:1234"], STACK)[0]
    assert "no service of the catalog publishes" in unknown.fix


def test_require_stack_kept_as_evidence():
    lines = CASES["missing-module"][0][1]
    df = classify([{"service": "auth", "container": "vextrus-auth", "state": "exited", "exit_code": 1,
                    "log_lines": lines}], catalog=None)
    row = df[df["category"] == "missing-module"].iloc[0]
    assert row["evidence"][:2] == ["Error: Cannot find module '@opentelemetry/api'", "Require stack:"]
    assert "docker compose build --no-cache auth" in row["fix"]
    assert row["details"] == [{"module": "@opentelemetry/api", "module_fix": row["fix"]}]


def test_health_only_signatures_do_not_read_logs():
    assert not [m for m in match_lines(["/bin/sh: curl: not found"], STACK, source="log")
                if m.category == "healthcheck-command-missing"]
    assert not [m for m in match_lines(["GET /missing 404 Not Found"], STACK, source="log")
                if m.category == "health-endpoint-missing"]


# -- field signatures ---------------------------------------------------------

def _cats(df: pd.DataFrame) -> list[str]:
    return list(df["category"])


def test_oom_killed_flag_and_exit_137():
    df = classify([{"service": "api", "state": "exited", "exit_code": 137, "oom_killed": True,
                    "log_lines": ["FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"]}])
    assert _cats(df) == ["oom"]
    row = df.iloc[0]
    assert row["severity"] == "critical" and "OOMKilled" in row["cause"] and row["match_count"] == 2
    assert any("heap out of memory" in e for e in row["evidence"])
    df = classify([{"service": "api", "state": "exited", "exit_code": 137, "oom_killed": False, "log_lines": []}])
    assert _cats(df) == ["killed"] and df.iloc[0]["severity"] == "high" and "SIGKILL" in df.iloc[0]["cause"]
    assert "memory" not in df.iloc[0]["fix"] and df.iloc[0]["title"] == "Killed (SIGKILL)"
    df = classify([{"service": "api", "state": "exited", "exit_code": 137, "oom_killed": False,
                    "log_lines": ["java.lang.OutOfMemoryError: Java heap space"]}])
    assert _cats(df) == ["oom"] and "memory" in df.iloc[0]["fix"]
    df = classify([{"service": "api", "state": "running", "exit_code": None, "oom_killed": False,
                    "events": [{"action": "oom", "time": "2026-11-27T00:00:00+00:00"}], "log_lines": []}])
    assert _cats(df) == ["oom"]


def test_crash_loop_from_restart_growth():
    df = classify([{"service": "workflow", "state": "restarting", "exit_code": 1, "restart_count": 7,
                    "restart_growth": 3, "log_lines": CASES["typescript-compile-error"][0][1]}])
    assert _cats(df) == ["typescript-compile-error", "crash-loop"]
    loop = df.iloc[1]
    assert loop["kind"] == "symptom" and "+3 since the previous sample" in loop["cause"]
    # a single restart long ago is not a loop
    df = classify([{"service": "w", "state": "running", "health": "healthy", "restart_count": 1,
                    "restart_growth": 0, "log_lines": []},
                   {"service": "v", "state": "running", "health": "healthy", "restart_count": 9,
                    "restart_growth": 0, "log_lines": []}])
    assert df.empty
    # log lines may come as a Series (a frame column)
    assert match_lines(pd.Series(["Error: Cannot find module 'x'"]), STACK)[0].category == "missing-module"


def test_slow_startup_from_health_log_and_catalog_start_period():
    started = pd.Timestamp("2026-11-27T00:00:00Z")
    health_log = [{"start": str(started + pd.Timedelta(seconds=s)), "exit_code": code,
                   "output": "wget: can't connect to remote host (127.0.0.1): Connection refused" if code else "ok"}
                  for s, code in ((10, 1), (20, 1), (30, 1), (40, 1), (95, 0))]
    catalog = pd.DataFrame([{"service": "docgen", "ports": [],
                             "healthcheck": {"test": ["CMD-SHELL", "true"], "start_period_s": 45.0}}])
    df = classify([{"service": "docgen", "state": "running", "health": "healthy", "started_at": started,
                    "health_log": health_log, "log_lines": []}], catalog=catalog)
    assert _cats(df) == ["slow-startup"]
    assert "95 s" in df.iloc[0]["cause"] and "45 s" in df.iloc[0]["cause"]
    assert "start_period` to at least 143s" in df.iloc[0]["fix"]


def test_engine_unreachable_from_field():
    df = classify([{"service": None, "engine_error": "Cannot connect to the Docker engine at "
                    "unix:///var/run/docker.sock: connection refused"}])
    assert _cats(df) == ["engine-unreachable"] and df.iloc[0]["severity"] == "critical"


def test_failing_healthcheck_without_known_output():
    df = classify([{"service": "web", "state": "running", "health": "unhealthy",
                    "health_log": [{"start": "x", "exit_code": 1, "output": "status 503 from /api/health"}],
                    "log_lines": []}])
    assert _cats(df) == ["healthcheck-failing"] and "503" in df.iloc[0]["cause"]


def test_unclassified_keeps_last_lines_and_healthy_is_silent():
    lines = [f"line {i}" for i in range(50)] + ["segfault at 0 ip 00007f sp 00007ffd error 4", ""]
    df = classify([{"service": "x", "state": "exited", "exit_code": 139, "log_lines": lines},
                   {"service": "job", "state": "exited", "exit_code": 0, "log_lines": ["done"]},
                   {"service": "ok", "state": "running", "health": "healthy", "log_lines": ["all good"]}])
    assert _cats(df) == ["unclassified"]
    row = df.iloc[0]
    assert row["service"] == "x" and "exit code 139" in row["cause"]
    assert row["evidence"][-1].startswith("segfault") and len(row["evidence"]) == 10


def test_classify_reads_the_logs_evidence_frame_shape():
    """The evidence frame from logs.gather_evidence (NaN/None, health_log, name) classifies as-is."""
    ev = pd.DataFrame([{"project": "p", "service": "auth", "name": "p-auth-1", "state": "exited",
                        "health": "none", "exit_code": 1, "oom_killed": False, "restart_count": 4,
                        "restart_growth": float("nan"), "health_log": [], "health_output": "",
                        "log_lines": ["Error: Cannot find module '@opentelemetry/api'"], "events": []},
                       {"project": "p", "service": "docgen", "name": "p-docgen-1", "state": "running",
                        "health": "unhealthy", "exit_code": None, "oom_killed": None, "restart_count": 0,
                        "restart_growth": None,
                        "health_log": [{"start": "t", "exit_code": 1, "output": "/bin/sh: curl: not found"}],
                        "health_output": "/bin/sh: curl: not found", "log_lines": [], "events": []}])
    df = classify(ev)
    assert list(df.columns) == sig.FINDING_COLUMNS
    assert _cats(df) == ["missing-module", "healthcheck-command-missing", "crash-loop"]
    assert df.iloc[0]["container"] == "p-auth-1"


def test_catalog_port_map_from_the_fixture(fixtures_dir):
    from runbook_lib.compose.catalog import load_catalog
    cat = load_catalog([fixtures_dir / "docker-compose.yml"], environ={})
    ports = sig.port_service_map(cat.frame)
    assert ports[5432] == ("postgres",) and ports[6379] == ("redis",) and "kafka" in ports[9093]
    df = classify([{"service": "auth", "state": "exited", "exit_code": 1,
                    "log_lines": ["Error: connect ECONNREFUSED 127.0.0.1:6379", "Error: getaddrinfo ENOTFOUND kafak"]}],
                  catalog=cat)
    fixes = dict(zip(df["category"], df["fix"]))
    assert "call `redis:6379` instead of localhost" in fixes["localhost-connection-refused"]
    causes = dict(zip(df["category"], df["cause"]))
    assert "did you mean kafka" in causes["dns-failure"]


# -- data-driven: adding an entry ----------------------------------------------

def test_adding_a_signature_is_one_entry(monkeypatch):
    new = Signature(category="grpc-unavailable", title="gRPC peer unavailable", severity="high",
                    needles=("14 unavailable",), patterns=(r"14 UNAVAILABLE: (?P<detail>.{0,80})",),
                    cause="the gRPC peer is unavailable: {detail}", fix="start the peer ({service})")
    line = "Error: 14 UNAVAILABLE: No connection established"
    assert not match_lines([line], STACK)
    monkeypatch.setattr(logmatch, "SIGNATURES", [*logmatch.SIGNATURES, new])
    m = match_lines([line], STACK)
    assert [x.category for x in m] == ["grpc-unavailable"]
    assert m[0].cause == "the gRPC peer is unavailable: No connection established" and "(auth)" in m[0].fix
    df = classify([{"service": "api", "state": "exited", "exit_code": 1, "log_lines": [line]}])
    assert _cats(df) == ["grpc-unavailable"]
    assert "grpc-unavailable" in set(sig.signature_table()["category"])


def test_bad_entries_are_refused():
    with pytest.raises(ValueError):
        Signature(category="x", title="x", severity="urgent", needles=("a",), patterns=("a",), cause="", fix="")
    with pytest.raises(ValueError):
        Signature(category="x", title="x", severity="low", needles=("Upper",), patterns=("a",), cause="", fix="")


def test_first_signature_in_table_order_wins_a_line():
    line = "KafkaJSConnectionError: Connection error: connect ECONNREFUSED 127.0.0.1:9092"
    assert [m.category for m in match_lines([line], STACK)] == ["localhost-connection-refused"]


# -- secrets, hostile text ------------------------------------------------------

def test_secrets_in_evidence_are_masked():
    canary = "cnry" + uuid.uuid4().hex[:12]
    redact.learn(canary + "learned")
    lines = [f"Error: connect ECONNREFUSED 127.0.0.1:5432 url=postgres://vextrus:{canary}@localhost:5432/db",
             f'Error: Config validation error: "JWT_SECRET" is required (password={canary})',
             f"Error: Cannot find module '@opentelemetry/api' token {canary}learned",
             f"ReplyError: WRONGPASS invalid username-password pair --requirepass {canary}"]
    df = classify([{"service": "auth", "state": "exited", "exit_code": 1, "log_lines": lines,
                    "health_outputs": [f"curl: (22) 404 Authorization: Bearer {canary}"]}])
    text = df.to_json()
    assert canary not in text
    assert redact.MASK in text
    unclassified = classify([{"service": "x", "state": "exited", "exit_code": 2,
                              "log_lines": [f"DB_PASSWORD={canary}", "bye"]}])
    assert canary not in unclassified.to_json() and redact.MASK in unclassified.iloc[0]["evidence"][0]


def test_binary_and_huge_lines_are_bounded():
    huge = "x" * 1_000_000 + " Error: connect ECONNREFUSED 127.0.0.1:5432 " + "y" * 1_000_000
    binary = b"\x00\xff\xfe garbage \x89PNG\r\n\x1a".decode("utf-8", "replace")
    lines = [binary, huge, "Error: Cannot find module 'left-pad'", bytes(range(256)).decode("latin-1")]
    df = classify([{"service": "auth", "state": "exited", "exit_code": 1, "log_lines": lines}], catalog=None)
    assert set(df["category"]) == {"localhost-connection-refused", "missing-module"}
    for ev in df["evidence"]:
        assert all(len(e) < 1000 for e in ev)
    local = df[df["category"] == "localhost-connection-refused"].iloc[0]["evidence"][0]
    assert "ECONNREFUSED 127.0.0.1:5432" in local and "chars cut]" in local
    # bytes objects are decoded, never an exception
    assert match_lines([b"Error: Cannot find module 'x'", b"\xff\xfe"], STACK)[0].category == "missing-module"


def test_long_unmatched_line_is_cut_in_unclassified():
    df = classify([{"service": "x", "state": "exited", "exit_code": 1, "log_lines": ["z" * 500_000]}])
    assert df.iloc[0]["category"] == "unclassified"
    assert len(df.iloc[0]["evidence"][0]) < 1000 and "chars cut]" in df.iloc[0]["evidence"][0]


# -- bulk sanity (memory and complexity, no timing assertions) ---------------------

def _noise(n: int, seed: int) -> list[str]:
    return [f"2026-11-27T00:{(i // 60) % 60:02d}:{i % 60:02d}.{seed:03d}Z [Nest] 1  - LOG [RouterExplorer] "
            f"Mapped {{/api/v1/items/{i}, GET}} route +{i % 7}ms" for i in range(n)]


def test_bulk_40_containers_counts_and_memory():
    evidence = []
    for c in range(40):
        lines = _noise(10_000, c)
        lines[1000] = "Error: connect ECONNREFUSED 127.0.0.1:5432"
        lines[9000] = "Error: Cannot find module '@opentelemetry/api'"
        evidence.append({"service": f"svc{c}", "state": "exited", "exit_code": 1, "log_lines": lines})
    input_bytes = sum(len(line) for ev in evidence for line in ev["log_lines"])
    tracemalloc.start()
    try:
        df = classify(evidence, catalog=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(df) == 80 and set(df["category"]) == {"localhost-connection-refused", "missing-module"}
    assert set(df["first_line"]) == {1000, 9000}
    # working memory is a few copies of one container's text, not of all 40
    assert peak < input_bytes / 4, (peak, input_bytes)


def test_crash_loop_of_identical_lines_is_one_finding_with_capped_evidence():
    lines = [f"2026-11-27T00:00:{i % 60:02d}Z src/main.ts(3,1): error TS2304: Cannot find name 'x'."
             for i in range(10_000)]
    df = classify([{"service": "w", "state": "restarting", "exit_code": 1, "restart_count": 2, "log_lines": lines}])
    ts = df[df["category"] == "typescript-compile-error"].iloc[0]
    assert ts["match_count"] == 10_000 and len(ts["evidence"]) == 5


def test_many_distinct_targets_fold_into_one_finding():
    lines = [f"Error: connect ECONNREFUSED 172.18.{i // 250}.{i % 250}:{5000 + i}" for i in range(2000)]
    lines += ["Error: Cannot find module 'a'", "Error: Cannot find module 'b'"]
    df = classify([{"service": "w", "state": "exited", "exit_code": 1, "log_lines": lines}])
    assert sorted(df["category"]) == ["connection-refused", "missing-module", "missing-module"]
    refused = df[df["category"] == "connection-refused"].iloc[0]
    assert refused["match_count"] == 2000 and "(and 1999 more like it)" in refused["cause"]
    assert len(refused["details"]) == 10 and len(refused["evidence"]) == 5


def test_fallback_without_aho_corasick_gives_the_same_matches(monkeypatch):
    lines = [line for cases in CASES.values() for src, ls, _, _ in cases if src == "log" for line in ls]
    expected = [(m.line_no, m.category) for m in match_lines(lines, STACK)]
    monkeypatch.setattr(logmatch, "_ac", None)
    sig._automaton.cache_clear()
    try:
        assert [(m.line_no, m.category) for m in match_lines(lines, STACK)] == expected
    finally:
        sig._automaton.cache_clear()


# -- end to end on the real engine ------------------------------------------------

def _wait(predicate, timeout_s: float = 60.0, step_s: float = 0.5):
    """Wait for a condition (not a timing assertion: fails only if it never happens)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError("condition never became true")


def _evidence(container) -> dict:
    container.reload()
    st = container.attrs["State"]
    raw = container.logs(tail=200, stdout=True, stderr=True)
    health = st.get("Health") or {}
    return {"service": container.name, "container": container.name, "state": st["Status"],
            "health": health.get("Status", "none"), "exit_code": st.get("ExitCode"),
            "oom_killed": st.get("OOMKilled"), "restart_count": container.attrs.get("RestartCount", 0),
            "log_lines": raw.decode("utf-8", "replace").splitlines(),
            "health_log": [{"start": h.get("Start"), "exit_code": h.get("ExitCode"), "output": h.get("Output")}
                           for h in health.get("Log") or []]}


@pytest.mark.docker
def test_real_containers_failing_in_each_way(containers):
    script_module = ("echo 'node:internal/modules/cjs/loader:1080'; "
                     "echo \"Error: Cannot find module '@opentelemetry/api'\"; echo 'Require stack:'; "
                     "echo '- /app/dist/main.js'; exit 1")
    script_local = "echo 'Error: connect ECONNREFUSED 127.0.0.1:5432'; exit 1"
    script_ts = ("printf '\\033[96msrc/main.ts\\033[0m:3:1 - \\033[91merror\\033[0m TS2304: Cannot find name x.\\n'; "
                 "head -c 3000 /dev/urandom; echo; exit 2")
    mod = containers(["sh", "-c", script_module], name="sig-module")
    local = containers(["sh", "-c", script_local], name="sig-local")
    ts = containers(["sh", "-c", script_ts], name="sig-ts")
    hc = containers(["sleep", "300"], name="sig-hc",
                    healthcheck={"test": ["CMD-SHELL", "curl -f http://127.0.0.1:3000/health"],
                                 "interval": 500_000_000, "timeout": 2_000_000_000, "retries": 1})
    for c in (mod, local, ts):
        c.wait(timeout=60)
    _wait(lambda: (hc.reload() or True) and (hc.attrs["State"].get("Health") or {}).get("Log"))
    evidence = [_evidence(c) for c in (mod, local, ts, hc)]
    catalog = pd.DataFrame([{"service": "postgres", "ports": [{"container_port": 5432, "host_port": None}],
                             "healthcheck": None}])
    df = classify(evidence, catalog=catalog)
    by = {(r.container, r.category) for r in df.itertuples()}
    assert (mod.name, "missing-module") in by
    assert (local.name, "localhost-connection-refused") in by
    assert (ts.name, "typescript-compile-error") in by
    assert (hc.name, "healthcheck-command-missing") in by
    fix = df[df["category"] == "localhost-connection-refused"].iloc[0]["fix"]
    assert "`postgres:5432`" in fix


@pytest.mark.docker
def test_real_port_in_use_permission_and_crash_loop(containers):
    port = containers(["sh", "-c", "httpd -f -p 127.0.0.1:8080 & sleep 1; httpd -f -p 127.0.0.1:8080; exit 3"],
                      name="sig-port", network_mode="none")
    perm = containers(["sh", "-c", "mkdir /runbook-data; exit 4"], name="sig-perm", user="1000:1000",
                      network_mode="none")
    loop = containers(["sh", "-c", "echo 'Error: Environment variable DATABASE_URL is missing'; exit 1"],
                      name="sig-loop", network_mode="none",
                      restart_policy={"Name": "on-failure", "MaximumRetryCount": 50})
    port.wait(timeout=60)
    perm.wait(timeout=60)
    first = _evidence(loop)["restart_count"]
    _wait(lambda: loop.reload() or loop.attrs.get("RestartCount", 0) >= first + 2)
    ev_loop = _evidence(loop)
    ev_loop["restart_growth"] = ev_loop["restart_count"] - first
    df = classify([_evidence(port), _evidence(perm), ev_loop])
    by = {(r.container, r.category) for r in df.itertuples()}
    assert (port.name, "port-in-use") in by, df[["container", "category", "evidence"]]
    assert (perm.name, "permission-denied") in by, df[["container", "category", "evidence"]]
    assert (loop.name, "missing-env-var") in by and (loop.name, "crash-loop") in by
    growth = df[(df["container"] == loop.name) & (df["category"] == "crash-loop")].iloc[0]["cause"]
    assert "since the previous sample" in growth


@pytest.mark.docker
def test_real_oom_kill(containers):
    c = containers(["sh", "-c", "echo start; x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo never"],
                   name="sig-oom", mem_limit="16m", memswap_limit="16m")
    c.wait(timeout=120)
    ev = _evidence(c)
    df = classify([ev])
    assert "oom" in set(df["category"]), (ev["exit_code"], ev["oom_killed"], ev["log_lines"][-3:])


@pytest.mark.docker
def test_docker_kill_is_killed_not_oom(containers, docker_client):
    """A real `docker kill` (SIGKILL, exit 137, OOMKilled false) is "killed (SIGKILL)", never OOM."""
    c = containers(["sh", "-c", "echo up; while true; do sleep 1; done"], name="sig-killed")
    c.kill(signal="SIGKILL")
    c.wait(timeout=60)
    ev = _evidence(c)
    assert ev["exit_code"] == 137 and not ev["oom_killed"]
    df = classify([ev])
    assert "oom" not in set(df["category"]) and "killed" in set(df["category"]), df[["category", "cause"]]
    row = df[df["category"] == "killed"].iloc[0]
    assert row["title"] == "Killed (SIGKILL)" and "raise the memory limit" not in row["fix"]


def test_hostile_log_text_renders_inert():
    from runbook_lib.view import render
    payloads = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
    lines = [f"Error: Cannot find module '{payloads[1]}'", f"{payloads[0]} Error: connect ECONNREFUSED 127.0.0.1:5432",
             f"{payloads[0]} unexplained"]
    df = classify([{"service": "x<b>y", "state": "exited", "exit_code": 1, "log_lines": lines}])
    assert set(df["category"]) == {"missing-module", "localhost-connection-refused"}
    html = render.table_html(df, state_col="severity")
    assert "<script>" not in html and "<img" not in html and "<b>y" not in html
    assert "&lt;script&gt;" in html
