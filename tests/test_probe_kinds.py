"""Protocol probe kinds against real servers (ZooKeeper) and protocol-faithful stand-ins.

Every kind: up / degraded / down (and unknown where it applies), wrong protocol → down
with a clear error, silent server or blackhole → down "timeout" (the runner bounds the
wall time; we assert the reason, not a duration).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import standins as S
from runbook_lib.probes import derive as probe_derive
from runbook_lib.probes import registry
from runbook_lib.probes import rows as probe_rows
from runbook_lib.probes.kinds import temporal
from runbook_lib.probes.runner import run_round
from runbook_lib.probes.spec import ProbeSpec

PROTOCOL_KINDS = ("kafka", "zookeeper", "elasticsearch", "clickhouse", "traefik", "minio", "rabbitmq",
                  "eventstore", "temporal", "prometheus", "grafana", "otel")


def protocol_kind(image):
    """The protocol kind of an image (None for postgres/redis and unknown images)."""
    kind = probe_derive.image_kind(image)[0]
    return kind if kind in PROTOCOL_KINDS else None
from servers import silent_server, tcp_blackhole  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(120)

ZK_JAR = Path("/usr/share/java/zookeeper.jar")


# ---------------------------------------------------------------- fixtures
def _stopping(server):
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kafka():
    yield from _stopping(S.KafkaStandin())


@pytest.fixture
def http():
    """Factory: http(routes) -> HttpStandin, stopped after the test."""
    made = []

    def make(routes=None):
        s = S.HttpStandin(routes)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def amqp():
    yield from _stopping(S.AmqpStandin())


@pytest.fixture
def grpc_health():
    made = []

    def make(implement: bool = True):
        s = S.GrpcHealthStandin(implement=implement)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


class ZooKeeper:
    """Debian's real ZooKeeper, standalone, on a random 127.0.0.1 port with a tmp config."""

    def __init__(self, whitelist: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rb-zk-"))
        self.port = S.free_port()
        (self.dir / "data").mkdir()
        cfg = self.dir / "zoo.cfg"
        cfg.write_text(f"tickTime=2000\ndataDir={self.dir / 'data'}\nclientPort={self.port}\n"
                       f"clientPortAddress=127.0.0.1\n4lw.commands.whitelist={whitelist}\n"
                       "admin.enableServer=false\n")
        self.log = open(self.dir / "zk.log", "wb")
        self.proc = subprocess.Popen(
            ["java", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
             "-cp", f"{ZK_JAR}:/etc/zookeeper/conf", f"-Dzookeeper.log.dir={self.dir}",
             "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg)],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout_s: float = 60.0) -> "ZooKeeper":
        import socket
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"zookeeper exited: {(self.dir / 'zk.log').read_text(errors='replace')[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"srvr")
                    reply = s.recv(200)
                    if reply and b"not currently serving" not in reply:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("zookeeper did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def zookeepers():
    """Two real ZooKeepers: every 4lw allowed, and ZooKeeper's default whitelist (srvr only)."""
    if not ZK_JAR.exists() or not shutil.which("java"):
        pytest.fail("zookeeper not installed: apt-get install zookeeper (scripts/test-deps.sh)")
    zks = {name: ZooKeeper(wl) for name, wl in (("all", "*"), ("default", "srvr"))}
    try:
        for zk in zks.values():
            zk.wait()
        yield zks
    finally:
        for zk in zks.values():
            zk.stop()


def one(spec: ProbeSpec) -> dict:
    """Run one spec through the real runner and return its row."""
    rows = run_round([spec])
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


# ---------------------------------------------------------------- registry and catalogue
def test_every_protocol_kind_is_registered():
    for kind in ("kafka", "elasticsearch", "zookeeper", "clickhouse", "traefik", "minio", "rabbitmq",
                 "eventstore", "temporal", "prometheus", "grafana", "otel"):
        assert callable(registry.lookup(kind)), kind
    assert set(PROTOCOL_KINDS) <= set(registry.KINDS)


@pytest.mark.parametrize("image,kind", [
    ("confluentinc/cp-kafka:7.5.0", "kafka"), ("confluentinc/cp-zookeeper:7.5.0", "zookeeper"),
    ("elasticsearch:8.11.1", "elasticsearch"), ("clickhouse/clickhouse-server:23.8-alpine", "clickhouse"),
    ("traefik:v3.5", "traefik"), ("minio/minio:latest", "minio"), ("rabbitmq:3-management", "rabbitmq"),
    ("eventstore/eventstore:23.10.0-bookworm-slim", "eventstore"), ("temporalio/auto-setup:1.22.0", "temporal"),
    ("prom/prometheus:v2.48.0", "prometheus"), ("grafana/grafana:10.2.0", "grafana"),
    ("otel/opentelemetry-collector-contrib:0.91.0", "otel"),
    ("temporalio/ui:2.21.0", None), ("provectuslabs/kafka-ui:latest", None), ("postgres:16-alpine", None),
    ("vextrus-erp/auth:latest", None), (None, None),
])
def test_image_kind_recognises_the_fixture_images(image, kind):
    assert protocol_kind(image) == kind


def test_fixture_compose_images_map_to_kinds(fixtures_dir):
    import yaml
    images = []
    for f in ("docker-compose.yml", "docker-compose.monitoring.yml"):
        doc = yaml.safe_load((fixtures_dir / f).read_text())
        images += [svc.get("image") for svc in doc["services"].values()]
    kinds = {protocol_kind(i) for i in images} - {None}
    assert {"kafka", "zookeeper", "elasticsearch", "clickhouse", "traefik", "minio", "rabbitmq",
            "eventstore", "temporal", "prometheus", "grafana", "otel"} <= kinds


def test_credential_options_from_the_service_environment():
    assert probe_derive.credential_options("elasticsearch", {"ELASTIC_PASSWORD": "s3cret-x"}) == \
        {"password": "s3cret-x", "user": "elastic"}
    assert probe_derive.credential_options("rabbitmq", {"RABBITMQ_DEFAULT_USER": "vx", "RABBITMQ_DEFAULT_PASS": "pw-1"}) == \
        {"password": "pw-1", "user": "vx"}
    assert probe_derive.credential_options("elasticsearch", {"discovery.type": "single-node"}) == {}
    assert probe_derive.credential_options("kafka", {"X": "y"}) == {}


# ---------------------------------------------------------------- kafka
def test_kafka_up_answers_apiversions_and_metadata(kafka):
    row = one(ProbeSpec("kafka", "kafka", port=kafka.port))
    assert row["state"] == "up" and row["ok"]
    assert "ApiVersions ok" in row["reply"] and "controller 1" in row["reply"]
    assert row["detail"][0]["component"] == "broker 1"
    assert [k for k, _ in kafka.requests] == [18, 3]
    assert kafka.requests[0] == (18, 0)


def test_kafka_without_controller_is_degraded(kafka):
    kafka.mode = "no-controller"
    row = one(ProbeSpec("kafka", "kafka", port=kafka.port))
    assert row["state"] == "degraded" and "no active controller" in row["error"]


def test_kafka_apiversions_error_is_degraded(kafka):
    kafka.mode = "api-error"
    row = one(ProbeSpec("kafka", "kafka", port=kafka.port))
    assert row["state"] == "degraded" and "UNSUPPORTED_VERSION" in row["error"]


def test_kafka_garbage_is_down_with_a_clear_error(kafka):
    kafka.mode = "garbage"
    row = one(ProbeSpec("kafka", "kafka", port=kafka.port))
    assert row["state"] == "down" and "not a Kafka broker" in row["error"]


def test_kafka_http_server_is_not_a_broker(http):
    s = http(S.clickhouse_routes())  # waits for a request line that never comes
    row = one(ProbeSpec("kafka", "kafka", port=s.port, timeout_s=0.5))
    assert row["state"] == "down" and row["error"] == "timeout"


def test_kafka_silent_broker_times_out(kafka):
    kafka.mode = "silent"
    row = one(ProbeSpec("kafka", "kafka", port=kafka.port, timeout_s=0.5))
    assert row["state"] == "down" and row["error"] == "timeout"


def test_kafka_refused_and_blackhole(tcp_blackhole):
    refused = one(ProbeSpec("kafka", "kafka", port=S.free_port()))
    assert refused["state"] == "down" and refused["error"] == "connection refused"
    hole = one(ProbeSpec("kafka", "kafka", port=tcp_blackhole.port, timeout_s=0.5))
    assert hole["state"] == "down" and hole["error"] == "timeout"


# ---------------------------------------------------------------- elasticsearch
@pytest.mark.parametrize("colour,state", [("green", "up"), ("yellow", "degraded"), ("red", "down")])
def test_elasticsearch_colour_maps_to_state(http, colour, state):
    s = http(S.es_routes(colour))
    row = one(ProbeSpec("es", "elasticsearch", port=s.port))
    assert row["state"] == state
    assert row["detail"][0]["status"] == colour and row["reply"] == f"cluster {colour}"


def test_elasticsearch_credentials_missing_wrong_and_right(http):
    s = http(S.es_routes("green"))
    s.auth = ("elastic", "es-pass-2024")
    missing = one(ProbeSpec("es", "elasticsearch", port=s.port))
    assert missing["state"] == "unknown" and "ELASTIC_PASSWORD" in missing["error"]
    wrong = one(ProbeSpec("es", "elasticsearch", port=s.port, options={"password": "nope-wrong"}))
    assert wrong["state"] == "down" and "authentication failed" in wrong["error"]
    right = one(ProbeSpec("es", "elasticsearch", port=s.port,
                          options=probe_derive.credential_options("elasticsearch", {"ELASTIC_PASSWORD": "es-pass-2024"})))
    assert right["state"] == "up"
    assert "es-pass-2024" not in repr(right) and "nope-wrong" not in repr(wrong)


def test_elasticsearch_master_not_discovered_is_down(http):
    body = {"error": {"type": "master_not_discovered_exception", "reason": None}, "status": 503}
    s = http({"/_cluster/health": (503, "application/json", body, 0.0)})
    row = one(ProbeSpec("es", "elasticsearch", port=s.port))
    assert row["state"] == "down" and "master_not_discovered_exception" in row["error"]


def test_elasticsearch_wrong_protocol_is_down(http):
    g = http(S.es_routes())
    g.mode = "garbage"
    row = one(ProbeSpec("es", "elasticsearch", port=g.port))
    assert row["state"] == "down" and "no valid HTTP reply" in row["error"]
    other = http(S.grafana_routes())
    row = one(ProbeSpec("es", "elasticsearch", port=other.port))  # 404 text
    assert row["state"] == "down" and "not JSON" in row["error"]


def test_elasticsearch_over_tls_is_found_without_configuration():
    """ES 8 with security on serves HTTPS only: plain HTTP gets the door closed, then HTTPS answers."""
    s = S.HttpStandin(S.es_routes("green"), tls=True)
    try:
        row = one(ProbeSpec("es", "elasticsearch", port=s.port, timeout_s=3))
        forced = one(ProbeSpec("es", "elasticsearch", port=s.port, options={"scheme": "http"}))
    finally:
        s.stop()
    assert row["state"] == "up", row
    assert forced["state"] == "down" and "over http" in forced["error"]


def test_elasticsearch_slow_answer_times_out(http):
    s = http({"/_cluster/health": (200, "application/json", S.es_health("green"), 5.0)})
    row = one(ProbeSpec("es", "elasticsearch", port=s.port, timeout_s=0.5))
    assert row["state"] == "down" and row["error"] == "timeout"


# ---------------------------------------------------------------- zookeeper (real)
def test_zookeeper_up_with_ruok_and_srvr(zookeepers):
    row = one(ProbeSpec("zookeeper", "zookeeper", port=zookeepers["all"].port))
    assert row["state"] == "up", row
    assert row["reply"].startswith("imok, mode standalone") and "latency" in row["reply"]
    assert row["detail"][0]["status"] == "standalone"


def test_zookeeper_default_whitelist_ruok_blocked_is_still_up_via_srvr(zookeepers):
    row = one(ProbeSpec("zookeeper", "zookeeper", port=zookeepers["default"].port))
    assert row["state"] == "up", row
    assert "ruok not whitelisted" in row["reply"]


def test_zookeeper_nothing_whitelisted_is_degraded_not_down():
    # ZooKeeper 3.8 always whitelists srvr, so a stand-in plays the 3.4/3.5 servers that block both
    zk = S.ZkFourLetterStandin("blocked")
    try:
        row = one(ProbeSpec("zookeeper", "zookeeper", port=zk.port))
    finally:
        zk.stop()
    assert row["state"] == "degraded", row
    assert "whitelist" in row["error"] and zk.requests == ["ruok", "srvr"]


def test_zookeeper_not_serving_is_down():
    zk = S.ZkFourLetterStandin("not-serving")
    try:
        row = one(ProbeSpec("zookeeper", "zookeeper", port=zk.port))
    finally:
        zk.stop()
    assert row["state"] == "down" and "not serving" in row["error"]


@pytest.fixture
def banner():
    """A server that sends garbage on connect (an SSH/TLS-like wrong service)."""
    yield from _stopping(S.BannerServer())


def test_zookeeper_wrong_protocol_refused_and_silent(banner, silent_server):
    g = banner
    row = one(ProbeSpec("zookeeper", "zookeeper", port=g.port))
    assert row["state"] == "down" and "not ZooKeeper" in row["error"]
    refused = one(ProbeSpec("zookeeper", "zookeeper", port=S.free_port()))
    assert refused["state"] == "down" and refused["error"] == "connection refused"
    silent = one(ProbeSpec("zookeeper", "zookeeper", port=silent_server.port, timeout_s=0.5))
    assert silent["state"] == "down" and silent["error"] == "timeout"


# ---------------------------------------------------------------- simple HTTP kinds
def test_clickhouse_ping(http):
    assert one(ProbeSpec("ch", "clickhouse", port=http(S.clickhouse_routes()).port))["state"] == "up"
    wrong = one(ProbeSpec("ch", "clickhouse", port=http(S.traefik_routes()).port))  # /ping says "OK"
    assert wrong["state"] == "down" and "not ClickHouse" in wrong["error"]
    err = one(ProbeSpec("ch", "clickhouse", port=http({"/ping": (500, "text/plain", "boom", 0.0)}).port))
    assert err["state"] == "down" and "500" in err["error"]


def test_traefik_ping_api_fallback_and_no_ping(http):
    assert one(ProbeSpec("t", "traefik", port=http(S.traefik_routes()).port))["reply"] == "OK"
    api = one(ProbeSpec("t", "traefik", port=http(S.traefik_routes(ping=False)).port))
    assert api["state"] == "up" and "/ping not enabled" in api["reply"]
    bare = one(ProbeSpec("t", "traefik", port=http({}).port))
    assert bare["state"] == "degraded" and "--ping" in bare["error"]
    err = one(ProbeSpec("t", "traefik", port=http({"/ping": (500, "text/plain", "x", 0.0)}).port))
    assert err["state"] == "down"


def test_minio_live_and_cluster(http):
    assert one(ProbeSpec("m", "minio", port=http(S.minio_routes()).port))["state"] == "up"
    deg = one(ProbeSpec("m", "minio", port=http(S.minio_routes(cluster_ok=False)).port))
    assert deg["state"] == "degraded" and "quorum" in deg["error"]
    assert [d["component"] for d in deg["detail"]] == ["live", "cluster"]
    down = one(ProbeSpec("m", "minio", port=http({"/minio/health/live": (503, "text/plain", b"", 0.0)}).port))
    assert down["state"] == "down"


def test_eventstore_live(http):
    assert one(ProbeSpec("e", "eventstore", port=http(S.eventstore_routes()).port))["state"] == "up"
    down = one(ProbeSpec("e", "eventstore", port=http({"/health/live": (503, "text/plain", "", 0.0)}).port))
    assert down["state"] == "down" and "503" in down["error"]


def test_prometheus_healthy_and_ready(http):
    assert one(ProbeSpec("p", "prometheus", port=http(S.prometheus_routes()).port))["reply"] == "healthy, ready"
    deg = one(ProbeSpec("p", "prometheus", port=http(S.prometheus_routes(ready=False)).port))
    assert deg["state"] == "degraded"
    assert one(ProbeSpec("p", "prometheus", port=http({}).port))["state"] == "down"


def test_grafana_database(http):
    up = one(ProbeSpec("g", "grafana", port=http(S.grafana_routes()).port))
    assert up["state"] == "up" and up["detail"] == [{"component": "database", "status": "up", "message": "ok"}]
    down = one(ProbeSpec("g", "grafana", port=http(S.grafana_routes("failing")).port))
    assert down["state"] == "down" and "failing" in down["error"]
    wrong = one(ProbeSpec("g", "grafana", port=http(S.clickhouse_routes()).port))
    assert wrong["state"] == "down" and "not JSON" in wrong["error"]


def test_otel_health_check_extension(http):
    up = one(ProbeSpec("o", "otel", port=http(S.otel_routes()).port))
    assert up["state"] == "up" and up["reply"] == "Server available"
    down = one(ProbeSpec("o", "otel", port=http(S.otel_routes(available=False)).port))
    assert down["state"] == "down" and down["reply"] == "Server not available"
    wrong = one(ProbeSpec("o", "otel", port=http({"/": (200, "text/html", "<html>hi</html>", 0.0)}).port))
    assert wrong["state"] == "down" and "13133" in wrong["error"]


@pytest.mark.parametrize("kind", ["clickhouse", "traefik", "minio", "eventstore", "prometheus", "grafana", "otel",
                                  "elasticsearch", "rabbitmq"])
def test_http_kinds_garbage_down_and_silent_timeout(http, kind):
    g = http({})
    g.mode = "garbage"
    row = one(ProbeSpec(kind, kind, port=g.port))
    assert row["state"] == "down" and ("no valid HTTP reply" in row["error"]), row
    s = http({})
    s.mode = "silent"
    row = one(ProbeSpec(kind, kind, port=s.port, timeout_s=0.5))
    assert row["state"] == "down" and "timeout" in row["error"].lower(), row


# ---------------------------------------------------------------- rabbitmq
def test_rabbitmq_management_api_no_alarms_and_alarms(http):
    s = http(S.rabbitmq_routes())
    s.auth = ("vextrus", "rabbit-pw-1")
    opts = probe_derive.credential_options("rabbitmq", {"RABBITMQ_DEFAULT_USER": "vextrus",
                                                       "RABBITMQ_DEFAULT_PASS": "rabbit-pw-1"})
    assert one(ProbeSpec("r", "rabbitmq", port=s.port, options=opts))["state"] == "up"
    s.routes.update(S.rabbitmq_routes(alarms=True))
    row = one(ProbeSpec("r", "rabbitmq", port=s.port, options=opts))
    assert row["state"] == "degraded" and "alarms" in row["error"]
    assert row["detail"][0]["component"] == "alarm disk"


def test_rabbitmq_wrong_credentials_fall_back_to_amqp(http, amqp):
    s = http(S.rabbitmq_routes())
    s.auth = ("vextrus", "rabbit-pw-1")
    row = one(ProbeSpec("r", "rabbitmq", port=s.port, options={"user": "vextrus", "password": "wrong-pw",
                                                               "amqp_port": amqp.port}))
    assert row["state"] == "up", row
    assert "AMQP 0-9-1 Connection.Start (RabbitMQ" in row["reply"] and "401" in row["reply"]
    assert amqp.requests == [S.AMQP_HEADER]
    assert "wrong-pw" not in repr(row)
    no_amqp = one(ProbeSpec("r", "rabbitmq", port=s.port, options={"user": "vextrus", "password": "wrong-pw"}))
    assert no_amqp["state"] == "down" and "authentication failed" in no_amqp["error"]
    no_creds = one(ProbeSpec("r", "rabbitmq", port=s.port))  # guest/guest refused, no password known
    assert no_creds["state"] == "unknown" and "missing credentials" in no_creds["error"]


def test_rabbitmq_management_down_amqp_decides(amqp):
    row = one(ProbeSpec("r", "rabbitmq", port=S.free_port(), options={"amqp_port": amqp.port}))
    assert row["state"] == "up" and "management API" in row["reply"]
    amqp.mode = "garbage"
    bad = one(ProbeSpec("r", "rabbitmq", port=amqp.port, options={"protocol": "amqp"}))
    assert bad["state"] == "down" and "AMQP" in bad["error"]
    amqp.mode = "silent"
    slow = one(ProbeSpec("r", "rabbitmq", port=amqp.port, options={"protocol": "amqp"}, timeout_s=0.5))
    assert slow["state"] == "down" and slow["error"] == "timeout"


def test_amqp_header_mismatch_is_reported(amqp):
    import socket
    with socket.create_connection(("127.0.0.1", amqp.port), timeout=2) as sock:
        sock.sendall(b"AMQP\x00\x00\x08\x00")
        assert sock.recv(8) == S.AMQP_HEADER
    assert S.connection_start_frame()[-1:] == b"\xce"


# ---------------------------------------------------------------- temporal
def test_temporal_grpc_health_serving(grpc_health):
    g = grpc_health()
    row = one(ProbeSpec("temporal", "temporal", port=g.port))
    assert row["state"] == "up" and "WorkflowService: SERVING" in row["reply"]
    assert g.requests == [temporal.TEMPORAL_SERVICE]


def test_temporal_not_serving_is_down_and_unknown_status_degraded(grpc_health):
    g = grpc_health()
    g.statuses[S.GrpcHealthStandin.WORKFLOW_SERVICE] = S.NOT_SERVING
    row = one(ProbeSpec("temporal", "temporal", port=g.port))
    assert row["state"] == "down" and "NOT_SERVING" in row["error"]
    g.statuses[S.GrpcHealthStandin.WORKFLOW_SERVICE] = 0
    assert one(ProbeSpec("temporal", "temporal", port=g.port))["state"] == "degraded"


def test_temporal_falls_back_to_server_status_then_tcp(grpc_health):
    g = grpc_health()
    del g.statuses[S.GrpcHealthStandin.WORKFLOW_SERVICE]
    row = one(ProbeSpec("temporal", "temporal", port=g.port))
    assert row["state"] == "up" and row["reply"] == "server: SERVING"
    assert g.requests == [temporal.TEMPORAL_SERVICE, ""]
    bare = grpc_health(implement=False)
    row = one(ProbeSpec("temporal", "temporal", port=bare.port))
    assert row["state"] == "up" and "TCP connect ok" in row["reply"]


def test_temporal_wrong_protocol_refused_silent(http, silent_server):
    g = http({})
    g.mode = "garbage"
    row = one(ProbeSpec("temporal", "temporal", port=g.port))
    assert row["state"] == "down" and "not a plaintext gRPC server" in row["error"]
    refused = one(ProbeSpec("temporal", "temporal", port=S.free_port()))
    assert refused["state"] == "down" and refused["error"] == "connection refused"
    silent = one(ProbeSpec("temporal", "temporal", port=silent_server.port, timeout_s=0.5))
    assert silent["state"] == "down" and silent["error"] == "timeout"


def test_grpc_health_messages_round_trip():
    req = temporal.encode_health_request(temporal.TEMPORAL_SERVICE)
    assert S._decode_service(req) == temporal.TEMPORAL_SERVICE
    assert temporal.encode_health_request("") == b""
    assert temporal.decode_health_response(b"\x08\x01") == 1
    assert temporal.decode_health_response(b"") == 0


# ---------------------------------------------------------------- a mixed round
def test_mixed_round_of_every_kind_runs_concurrently(kafka, http, amqp, grpc_health, zookeepers, tcp_blackhole):
    specs = [
        ProbeSpec("kafka", "kafka", port=kafka.port),
        ProbeSpec("zookeeper", "zookeeper", port=zookeepers["all"].port),
        ProbeSpec("elasticsearch", "elasticsearch", port=http(S.es_routes("yellow")).port),
        ProbeSpec("clickhouse", "clickhouse", port=http(S.clickhouse_routes()).port),
        ProbeSpec("traefik", "traefik", port=http(S.traefik_routes()).port),
        ProbeSpec("minio", "minio", port=http(S.minio_routes()).port),
        ProbeSpec("rabbitmq", "rabbitmq", port=amqp.port, options={"protocol": "amqp"}),
        ProbeSpec("eventstore", "eventstore", port=http(S.eventstore_routes()).port),
        ProbeSpec("temporal", "temporal", port=grpc_health().port),
        ProbeSpec("prometheus", "prometheus", port=http(S.prometheus_routes()).port),
        ProbeSpec("grafana", "grafana", port=http(S.grafana_routes()).port),
        ProbeSpec("otel", "otel", port=http(S.otel_routes()).port),
        ProbeSpec("kafka-hole", "kafka", port=tcp_blackhole.port, timeout_s=0.5),
    ]
    rows = run_round(specs).set_index("service")
    assert list(rows.columns) == [c for c in probe_rows.PROBE_COLUMNS if c != "service"]
    assert rows.loc["elasticsearch", "state"] == "degraded"
    assert rows.loc["kafka-hole", "error"] == "timeout"
    ups = rows.drop(["elasticsearch", "kafka-hole"])
    assert (ups["state"] == "up").all(), ups[["state", "error"]]
    assert rows["checked_at"].map(lambda t: t.tzinfo is not None).all()


# ---------------------------------------------------------------- port not published: probe from inside
def test_http_kind_probes_from_inside_the_container(docker_client, containers):
    """ClickHouse-shaped /ping served by busybox httpd with no published port: probed through exec."""
    c = containers(["sh", "-c", "mkdir -p /www && printf 'Ok.\\n' > /www/ping && "
                                "printf '{\"database\":\"ok\"}' > /www/health && httpd -f -p 8123 -h /www"],
                   name="ch-exec")
    spec = ProbeSpec("signoz-clickhouse", "clickhouse", port=8123, via="exec", container=c.id)
    row = None
    for _ in range(50):
        row = run_round([spec], client=docker_client).iloc[0].to_dict()
        if row["state"] == "up":
            break
        time.sleep(0.2)
    assert row["state"] == "up", row
    assert row["via"] == "exec" and "port not published" in row["reply"]
    es = run_round([ProbeSpec("es", "elasticsearch", port=8123, via="exec", container=c.id)],
                   client=docker_client).iloc[0]
    assert es["state"] == "down" and es["via"] == "exec" and "not JSON" in es["error"]


@pytest.mark.parametrize("kind", sorted(PROTOCOL_KINDS))
def test_every_kind_is_unknown_not_down_when_it_cannot_run(kind):
    """Port not published and no engine to probe from inside: unknown for every kind, never down."""
    info = registry.lookup(kind)
    row = one(ProbeSpec(kind, kind, port=info.default_port, via="exec", container="abc"))
    assert row["state"] == "unknown" and not row["ok"] and "port not published" in row["error"], row
    none = one(ProbeSpec(kind, kind, port=info.default_port, via="none"))
    assert none["state"] == "unknown" and "port not published" in none["error"]


ZK_SCRIPT = r"""
read -n 4 w
case "$w" in
  ruok) printf imok ;;
  srvr) printf 'Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.1/3\nMode: standalone\nNode count: 5\n' ;;
esac
"""


def test_zookeeper_probed_from_inside_the_container(docker_client, containers):
    """A four-letter-word stand-in (busybox nc) with no published port: ruok/srvr sent with the image's nc."""
    c = containers(["sh", "-c", f"cat > /tmp/zk.sh <<'EOF'\n{ZK_SCRIPT}\nEOF\nnc -ll -p 2181 -e sh /tmp/zk.sh"],
                   name="zk-exec")
    spec = ProbeSpec("zookeeper", "zookeeper", port=2181, via="exec", container=c.id)
    row = None
    for _ in range(50):
        row = run_round([spec], client=docker_client).iloc[0].to_dict()
        if row["state"] == "up":
            break
        time.sleep(0.2)
    assert row["state"] == "up", row
    assert row["via"] == "exec" and "imok, mode standalone" in row["reply"]
    assert "port not published" in row["reply"]


def test_server_text_renders_inert_and_secrets_stay_out(http):
    """What a server says (advertised names, versions) is data: escaped in HTML; passwords never appear."""
    from runbook_lib.view import render
    payload = '"><img src=x onerror=alert(1)><script>alert(1)</script>'
    s = http({"/api/health": (503, "application/json", {"database": payload, "version": payload}, 0.0)})
    g = one(ProbeSpec("grafana", "grafana", port=s.port))
    es = http(S.es_routes("yellow"))
    es.routes["/_cluster/health"] = (200, "application/json", S.es_health("yellow", cluster_name=payload), 0.0)
    es.auth = ("elastic", "canary-Zq81-es")
    e = one(ProbeSpec("es", "elasticsearch", port=es.port, options={"password": "canary-Zq81-es"}))
    assert g["state"] == "down" and e["state"] == "degraded"
    import pandas as pd
    page = render.table_html(pd.DataFrame([g, e]), state_col="state")
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "canary-Zq81-es" not in page + repr(e)
