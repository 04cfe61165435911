"""Protocol probe kinds: cost per probe and timeout behaviour, ours next to the references.

Run: ``.venv/bin/python benchmarks/bench_probe_kinds.py`` (stand-ins on 127.0.0.1, no Docker).

1. Kafka: our wire-protocol client (ApiVersions v0 + Metadata v1) vs kafka-python's
   ``KafkaAdminClient(bootstrap_timeout_ms=…).describe_cluster()`` — up, refused, blackhole.
2. HTTP kinds: our shared httpx client (no keep-alive) vs a new ``httpx.Client`` per probe.
3. One concurrent round of every protocol kind (4 of each, 48 probes): wall and CPU seconds.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import standins as S  # noqa: E402
from servers import TcpBlackhole  # noqa: E402

from runbook_lib.probes.runner import probe_once, run_round  # noqa: E402
from runbook_lib.probes.spec import ProbeSpec  # noqa: E402

REPEAT = 30


def measure(fn, repeat: int = 1) -> tuple[float, float, str]:
    """(median wall ms, median CPU ms, last outcome) over ``repeat`` calls."""
    walls, cpus, out = [], [], ""
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return statistics.median(walls), statistics.median(cpus), out


def ours_kafka(port: int, timeout_s: float = 2.0):
    def run():
        row = probe_once(ProbeSpec("kafka", "kafka", port=port, timeout_s=timeout_s))
        return f"{row['state']} {row['error'] or ''}".strip()
    return run


def kafka_python(port: int, timeout_s: float = 2.0):
    from kafka import KafkaAdminClient

    def run():
        try:
            admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}",
                                     bootstrap_timeout_ms=int(timeout_s * 1000),
                                     request_timeout_ms=int(timeout_s * 1000))
        except Exception as exc:  # noqa: BLE001
            return f"down {type(exc).__name__}"
        try:
            meta = admin.describe_cluster()
            return f"up {len(meta['brokers'])} broker(s)"
        except Exception as exc:  # noqa: BLE001
            return f"down {type(exc).__name__}"
        finally:
            admin.close()
    return run


def per_probe_client(port: int):
    import httpx

    def run():
        with httpx.Client(trust_env=False, timeout=2.0) as cx:
            r = cx.get(f"http://127.0.0.1:{port}/ping")
        return "up" if r.text.strip() == "Ok." else "down"
    return run


def shared_client(port: int):
    def run():
        return probe_once(ProbeSpec("ch", "clickhouse", port=port))["state"]
    return run


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n### {title}\n")
    print("| case | implementation | wall ms (median) | CPU ms (median) | outcome |")
    print("|---|---|---:|---:|---|")
    for case, impl, (wall, cpu, out) in rows:
        print(f"| {case} | {impl} | {wall:.1f} | {cpu:.2f} | {out} |")


def main() -> None:
    kafka, bh = S.KafkaStandin(), TcpBlackhole()
    refused = S.free_port()
    ours_kafka(kafka.port)(), kafka_python(kafka.port)()  # warm imports
    table("Kafka: ApiVersions/Metadata (timeout 2 s)", [
        ("broker up", "ours (wire protocol)", measure(ours_kafka(kafka.port), REPEAT)),
        ("broker up", "kafka-python KafkaAdminClient", measure(kafka_python(kafka.port), REPEAT)),
        ("connection refused", "ours", measure(ours_kafka(refused), 5)),
        ("connection refused", "kafka-python", measure(kafka_python(refused), 1)),
        ("blackhole", "ours", measure(ours_kafka(bh.port), 1)),
        ("blackhole", "kafka-python", measure(kafka_python(bh.port), 1)),
    ])

    ch = S.HttpStandin(S.clickhouse_routes())
    shared_client(ch.port)(), per_probe_client(ch.port)()
    table("HTTP kinds (ClickHouse /ping)", [
        ("up", "ours (shared httpx client, no keep-alive)", measure(shared_client(ch.port), REPEAT * 2)),
        ("up", "new httpx.Client per probe", measure(per_probe_client(ch.port), REPEAT * 2)),
    ])

    servers = []
    specs = []
    for i in range(4):
        k = S.KafkaStandin()
        a = S.AmqpStandin()
        g = S.GrpcHealthStandin()
        servers += [k, a, g]
        specs += [ProbeSpec(f"kafka{i}", "kafka", port=k.port),
                  ProbeSpec(f"rabbitmq{i}", "rabbitmq", port=a.port, options={"protocol": "amqp"}),
                  ProbeSpec(f"temporal{i}", "temporal", port=g.port)]
        for kind, routes in (("elasticsearch", S.es_routes()), ("clickhouse", S.clickhouse_routes()),
                             ("traefik", S.traefik_routes()), ("minio", S.minio_routes()),
                             ("eventstore", S.eventstore_routes()), ("prometheus", S.prometheus_routes()),
                             ("grafana", S.grafana_routes()), ("otel", S.otel_routes())):
            h = S.HttpStandin(routes)
            servers.append(h)
            specs.append(ProbeSpec(f"{kind}{i}", kind, port=h.port))
        zk = S.ZkFourLetterStandin("blocked")
        servers.append(zk)
        specs.append(ProbeSpec(f"zookeeper{i}", "zookeeper", port=zk.port))
    run_round(specs)  # warm-up
    walls, cpus = [], []
    for _ in range(5):
        w0, c0 = time.perf_counter(), time.process_time()
        rows = run_round(specs)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    states = rows["state"].value_counts().to_dict()
    print(f"\n### One concurrent round of {len(specs)} protocol probes (12 kinds x 4), 5 rounds\n")
    print("| wall s (median) | CPU s per round (median, incl. in-process stand-ins) | states |")
    print("|---:|---:|---|")
    print(f"| {statistics.median(walls):.3f} | {statistics.median(cpus):.3f} | {states} |")
    for s in servers:
        s.stop()
    kafka.stop()
    ch.stop()
    bh.close()


if __name__ == "__main__":
    main()
