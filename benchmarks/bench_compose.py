"""Benchmark: compose catalog (+ recovery plan) against the reference parser, side by side.

Reference: ``docker compose config`` when the binary exists, else a plain
``yaml.safe_load`` of the same files (pure-Python and libyaml loaders both shown).
Inputs: the 41-service vextrus-erp fixture, and a generated 500-service file with
anchors, interpolation, healthchecks and a layered depends_on DAG.
Goal: catalog + plan of 500 services under 0.5 s.

    .venv/bin/python benchmarks/bench_compose.py [--repeat N]

CPU time is what the goal is judged on (the machine is shared); wall times are shown too.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runbook_lib.compose.catalog import load_catalog  # noqa: E402
from runbook_lib.config import RunbookConfig  # noqa: E402

FIXTURE = REPO.parent / "shared" / "fixtures" / "vextrus-erp" / "docker-compose.yml"
GOAL_S = 0.5
HAVE_PLAN = importlib.util.find_spec("runbook_lib.analysis.plan") is not None and \
    importlib.util.find_spec("runbook_lib.analysis.expected") is not None


def generate(n: int, seed: int = 7) -> str:
    """A compose file of n services in layers (infra at the bottom), deterministic."""
    rng = random.Random(seed)
    infra_images = ["postgres:16", "redis:7", "confluentinc/cp-kafka:7.5.0", "elasticsearch:8.11.1",
                    "rabbitmq:3-management", "minio/minio:latest", "traefik:v3.5", "clickhouse/clickhouse-server:23.8"]
    lines = ["x-common: &common", "  restart: unless-stopped", "  networks: [backend]",
             "  labels: {team: platform}", "x-health: &health", "  interval: 10s", "  timeout: 5s",
             "  retries: 5", "  start_period: 20s", "services:"]
    names: list[str] = []
    for i in range(n):
        name = f"svc-{i:03d}"
        layer_infra = i < max(8, n // 20)
        lines.append(f"  {name}:")
        lines.append("    <<: *common")
        if layer_infra:
            lines.append(f"    image: {infra_images[i % len(infra_images)]}")
        else:
            lines.append("    build: {context: ./apps, args: {SERVICE: " + name + "}}")
            lines.append(f"    image: acme/{name}:${{VERSION:-latest}}")
        lines.append(f"    container_name: acme-{name}")
        lines.append("    environment:")
        lines.append(f"      APP_PORT: {3000 + i}")
        lines.append(f"      DATABASE_URL: postgres://app:secret-{i}@svc-000:5432/app")
        lines.append(f"      API_TOKEN: ${{API_TOKEN:-tok-{i}}}")
        lines.append("      LOG_LEVEL: info")
        lines.append(f"    ports: [\"127.0.0.1:{20000 + i}:{3000 + i}\"]")
        lines.append(f"    volumes: [\"data-{i}:/data\", \"./conf/{name}:/etc/app:ro\"]")
        if i % 3 != 2:
            lines.append("    healthcheck:")
            lines.append("      <<: *health")
            lines.append(f"      test: [\"CMD-SHELL\", \"wget -q -O- http://127.0.0.1:{3000 + i}/health\"]")
        if names and not layer_infra:
            deps = rng.sample(names, k=min(len(names), rng.randint(1, 4)))
            lines.append("    depends_on:")
            for d in deps:
                cond = rng.choice(["service_started", "service_healthy"])
                lines.append(f"      {d}: {{condition: {cond}}}")
        names.append(name)
    lines.append("networks: {backend: {}}")
    lines.append("volumes:")
    lines.extend(f"  data-{i}: {{}}" for i in range(n))
    return "\n".join(lines) + "\n"


def timed(fn, repeat: int) -> tuple[tuple[float, float, float], object]:
    """(best wall, median wall, median CPU) seconds over ``repeat`` runs, and the last result.

    The machine is shared with other jobs: CPU time (``time.process_time``) is the code's
    own cost and what the goal is judged on; wall times show what a user sees under load.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return (min(walls), statistics.median(walls), statistics.median(cpus)), result


def catalog_and_plan(path: Path):
    cat = load_catalog([path], environ={}, config=RunbookConfig())
    if not HAVE_PLAN:
        return cat, None
    from runbook_lib.analysis.expected import expected_vs_actual
    from runbook_lib.engine.inventory import empty_inventory
    from runbook_lib.analysis.plan import recovery_plan
    status = expected_vs_actual(cat.frame, empty_inventory(), project=cat.project)  # worst case: all down
    return cat, recovery_plan(cat.frame, status, project=cat.project)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    docker_compose = shutil.which("docker") and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "compose" / "docker-compose.yml"
        big.parent.mkdir()
        big.write_text(generate(500))
        for label, path in (("vextrus-erp (41 services)", FIXTURE), ("generated (500 services)", big)):
            text = path.read_text()
            if docker_compose:
                t_ref, _ = timed(lambda: subprocess.run(["docker", "compose", "-f", str(path), "config"],
                                                        capture_output=True, check=True), args.repeat)
                rows.append((label, "reference: docker compose config", t_ref, ""))
            rows.append((label, "reference: yaml.safe_load (pure Python)",
                         timed(lambda: yaml.safe_load(text), args.repeat)[0], ""))
            rows.append((label, "reference: yaml.load(CSafeLoader)",
                         timed(lambda: yaml.load(text, Loader=yaml.CSafeLoader), args.repeat)[0], ""))
            t_cat, cat = timed(lambda: load_catalog([path], environ={}, config=RunbookConfig()), args.repeat)
            rows.append((label, "ours: load_catalog", t_cat, f"{len(cat.frame)} services"))
            if HAVE_PLAN:
                t_all, (cat, plan) = timed(lambda: catalog_and_plan(path), args.repeat)
                rows.append((label, "ours: catalog + expected + plan", t_all,
                             f"{len(plan)} steps, {int(plan['wave'].max())} waves"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.repeat} runs each; {os.cpu_count()} CPUs, load average {load:.1f}; docker compose "
          f"{'found' if docker_compose else 'NOT found (yaml reference)'}; "
          f"plan module {'used' if HAVE_PLAN else 'missing: catalog only'}")
    print(f"| {'input':<26} | {'what':<42} | {'CPU ms':>7} | {'best wall ms':>12} | {'median wall ms':>14} | note")
    print(f"|{'-' * 28}|{'-' * 44}|{'-' * 9}|{'-' * 14}|{'-' * 16}|------")
    for label, what, (best, med, cpu), note in rows:
        print(f"| {label:<26} | {what:<42} | {cpu * 1000:>7.1f} | {best * 1000:>12.1f} | {med * 1000:>14.1f} | {note}")
    best, med, cpu = [t for label, what, t, _ in rows if label.startswith("generated") and what.startswith("ours")][-1]
    verdict = "PASS" if cpu < GOAL_S else "FAIL"
    print(f"goal: 500 services catalog{' + plan' if HAVE_PLAN else ''} < {GOAL_S * 1000:.0f} ms -> CPU {cpu * 1000:.1f} ms "
          f"(wall best {best * 1000:.1f}, median {med * 1000:.1f}): {verdict} (judged on CPU time)")
    return 0 if cpu < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
