"""Shared helpers of the compose tests (test_compose_*.py)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import dockerenv
from runbook_lib.compose.catalog import Catalog, load_catalog, parse_port
from runbook_lib.compose.normalise import duration_s
from runbook_lib.config import RunbookConfig

NO_CONFIG = RunbookConfig()
# Plain-text secrets of tests/fixtures/ledgerline-erp (invented; see its README).
FIXTURE_SECRETS = ["ledgerline_pg_2025", "ledgerline_redis_2025", "ledgerline_minio_2025", "ledgerline_grafana_2025",
                   "ledgerline_rabbit_2025", "ledgerline_jwt_access_2025", "ledgerline_jwt_refresh_2025",
                   "ledgerline_pgadmin_2025", "ledgerline_elastic_2025"]


def load(files, **kw) -> Catalog:
    kw.setdefault("environ", {})
    kw.setdefault("config", NO_CONFIG)
    return load_catalog(files, **kw)


def write(tmp_path: Path, text: str, name: str = "docker-compose.yml") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def dump(cat: Catalog) -> str:
    """Everything a report could show of a catalog."""
    return json.dumps(cat.frame.to_dict("records"), default=str) + cat.frame.to_string() + " ".join(cat.notes)


def row(cat: Catalog, service: str) -> dict:
    return cat.frame.set_index("service").loc[service].to_dict()


def all_fixture_files(d: Path) -> list[Path]:
    """Every compose file under a fixture folder."""
    return sorted(d.rglob("*.yml")) + sorted(d.rglob("*.yaml"))


# ------------------------------------------------------------------ the docker-compose 1.29 oracle
DOCKER_COMPOSE = shutil.which("docker-compose")

# Compose-spec rules that docker-compose 1.29 predates. Before 1.29 reads a file, each rule
# rewrites it (name, pattern, replacement); runbook reads the original, with the newer rule.
SPEC_ONLY_RULES: list[tuple[str, re.Pattern, str]] = [
    ("depends_on.required (compose spec; Compose v2.20+): 1.29 refuses the key",
     re.compile(r"^[ \t]+required: (?:true|false)\n", re.M), ""),
    ("depends_on.restart (compose spec; Compose v2.17+): 1.29 refuses the key",
     re.compile(r"^[ \t]+restart: (?:true|false)\n", re.M), ""),
    ("booleans as environment values (compose spec): 1.29 accepts only strings, numbers and null",
     re.compile(r"^([ \t]+[A-Z][A-Z0-9_]*): (true|false)$", re.M), r'\1: "\2"'),
]


def need_oracle() -> str:
    """The docker-compose 1.29 binary; skip only outside CI when it is absent (scripts/test-deps.sh installs it)."""
    if DOCKER_COMPOSE:
        return DOCKER_COMPOSE
    if dockerenv.in_ci():
        pytest.fail("docker-compose (1.29, Debian's package) is required in CI: run scripts/test-deps.sh")
    pytest.skip("docker-compose 1.29 not installed (apt-get install docker-compose, or scripts/test-deps.sh)")


def oracle_copy(src_dir: Path, dst_dir: Path) -> list[str]:
    """Copy a fixture folder, rewriting compose-spec-only syntax for 1.29; returns the rules applied."""
    shutil.copytree(src_dir, dst_dir, dirs_exist_ok=True)
    used: list[str] = []
    for f in sorted(dst_dir.rglob("*.y*ml")):
        text = f.read_text(encoding="utf-8")
        for name, rx, repl in SPEC_ONLY_RULES:
            text, n = rx.subn(repl, text)
            if n and name not in used:
                used.append(name)
        f.write_text(text, encoding="utf-8")
    return used


def oracle_config(files: list[Path], environ: dict[str, str] | None = None) -> dict:
    """``docker-compose -f … config`` (1.29) parsed: the merged, interpolated model."""
    binary = need_oracle()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(files[0].parent), **(environ or {})}
    args = [binary] + [a for f in files for a in ("-f", str(f))] + ["config"]
    out = subprocess.run(args, cwd=files[0].parent, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"docker-compose config failed: {out.stderr.strip()}"
    return yaml.safe_load(out.stdout)


def _unescape(v: Any) -> Any:
    """1.29's ``config`` prints a literal ``$`` as ``$$`` again (its output must interpolate to the same)."""
    return v.replace("$$", "$") if isinstance(v, str) else v


def _text(v: Any) -> str | None:
    return None if v is None else _unescape(str(v))


def oracle_service(svc: dict) -> dict:
    """One service of 1.29's model in the shape compared with runbook's catalog."""
    ports = set()
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            pub = p.get("published")
            ports.add((p.get("host_ip") or "0.0.0.0", int(pub) if pub not in (None, "") else None,
                       int(p["target"]), p.get("protocol") or "tcp"))
        else:
            ports |= {(r["host_ip"], r["host_port"], r["container_port"], r["protocol"]) for r in parse_port(p)}
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        deps = {d: {} for d in deps}
    hc = svc.get("healthcheck")
    health = None
    if hc and not hc.get("disable"):
        test = hc.get("test")
        test = ["CMD-SHELL", test] if isinstance(test, str) else list(test or [])
        health = {"test": [_unescape(str(t)) for t in test]}
        for key in ("interval", "timeout", "start_period"):
            if hc.get(key) is not None:
                health[f"{key}_s"] = duration_s(hc[key], key, "", "")
        if hc.get("retries") is not None:
            health["retries"] = int(hc["retries"])
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {"image": svc.get("image"), "ports": ports,
            "depends_on": {d: (o or {}).get("condition", "service_started") for d, o in deps.items()},
            "healthcheck": health, "environment": {k: _text(v) for k, v in env.items()}}


def catalog_service(spec: dict, keys: dict | None = None) -> dict:
    """One service of runbook's catalog (``raw``) in the same shape; healthcheck keys as 1.29 printed them."""
    hc = spec["healthcheck"]
    health = None
    if hc is not None:
        health = {"test": list(hc["test"])}
        for k in (keys or {}):
            if k != "test":
                health[k] = hc[k]
    return {"image": spec["image"],
            "ports": {(p["host_ip"], p["host_port"], p["container_port"], p["protocol"]) for p in spec["ports"]},
            "depends_on": {d["service"]: d["condition"] for d in spec["depends_on"]},
            "healthcheck": health, "environment": dict(spec["environment"])}


def compare_with_oracle(files: list[Path], oracle_files: list[Path], environ: dict[str, str] | None = None,
                        skip: dict[str, str] | None = None) -> dict:
    """Assert runbook's catalog of ``files`` equals 1.29's model of ``oracle_files``, service by service.

    Services, images, ports, dependencies with their conditions, healthchecks and environment
    (keys and values). ``skip`` maps a service whose 1.29 copy had to differ to the rule that
    makes it differ. Returns 1.29's model for further checks.
    """
    model = oracle_config(oracle_files, environ)
    cat = load_catalog(files, environ=dict(environ or {}), profiles=["*"], config=NO_CONFIG)
    theirs = model.get("services") or {}
    assert set(cat.raw) == set(theirs), (files, set(cat.raw) ^ set(theirs))
    for name, svc in theirs.items():
        if name in (skip or {}):
            assert skip[name], name  # every difference names its rule
            continue
        want = oracle_service(svc)
        got = catalog_service(cat.raw[name], want["healthcheck"])
        for field in want:
            assert got[field] == want[field], (str(files[-1]), name, field, got[field], want[field])
    return model
