"""Bounded compose input: alias expansion measured in bytes and values, size caps on compose and .env files."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbook_lib.compose import yamlload
from runbook_lib.compose.catalog import load_catalog
from runbook_lib.compose.interpolate import parse_env_file
from runbook_lib.exceptions import ComposeError


def _string_bomb(path: Path, size: int, uses: int = 3000) -> Path:
    head = f'x-big: &big "{"x" * size}"\nservices:\n  a:\n    image: busybox\n    labels:\n'
    path.write_text(head + "".join(f"      l{i}: *big\n" for i in range(uses)))
    return path


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_big_string_aliased_3000_times_is_refused(tmp_path, size):
    p = _string_bomb(tmp_path / "docker-compose.yml", size)
    with pytest.raises(ComposeError, match="excessive aliasing.*characters") as err:
        load_catalog([p])
    assert str(p) in str(err.value) and "RUNBOOK_MAX_EXPANDED_BYTES" in str(err.value)


def test_refusal_allocates_no_expanded_copy(tmp_path):
    """1 MB aliased 3,000 times is 3 GB expanded: the refusal stays far below that in memory."""
    p = _string_bomb(tmp_path / "docker-compose.yml", 1_000_000)
    code = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from runbook_lib.compose.catalog import load_catalog
        from runbook_lib.exceptions import ComposeError
        try:
            load_catalog([Path({str(p)!r})])
        except ComposeError:
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert int(out.stdout.strip()) < 600, out.stdout  # MiB; the expanded document would be ~3,000


def test_value_bomb_and_merge_key_bomb_are_refused(tmp_path):
    lines = ["a0: &a0 {k0: v, k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v, k9: v}"]
    for i in range(1, 8):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("services:\n  app: {image: x, command: *a7}")
    p = tmp_path / "v.yml"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ComposeError, match="excessive aliasing"):
        load_catalog([p])


def test_ordinary_anchors_still_load(tmp_path):
    p = tmp_path / "docker-compose.yml"
    p.write_text("x-env: &env {A: '1', B: '2'}\nservices:\n" +
                 "".join(f"  s{i}: {{image: busybox, environment: *env}}\n" for i in range(200)))
    assert len(load_catalog([p]).frame) == 200


def test_compose_file_over_the_size_cap_is_refused(tmp_path, monkeypatch):
    p = tmp_path / "docker-compose.yml"
    p.write_text("services:\n  a: {image: busybox}\n# " + "x" * 5000 + "\n")
    monkeypatch.setenv(yamlload.MAX_FILE_BYTES_ENV, "4096")
    with pytest.raises(ComposeError, match="larger than 4096 bytes.*RUNBOOK_MAX_COMPOSE_BYTES"):
        load_catalog([p])
    monkeypatch.setenv(yamlload.MAX_FILE_BYTES_ENV, "nan")
    with pytest.raises(ComposeError, match="not a positive number"):
        load_catalog([p])
    monkeypatch.delenv(yamlload.MAX_FILE_BYTES_ENV)
    assert len(load_catalog([p]).frame) == 1
    assert yamlload.max_file_bytes({}) == yamlload.DEFAULT_MAX_FILE_BYTES


def test_env_file_over_the_size_cap_is_refused(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("A=1\n" + "# filler\n" * 1000)
    monkeypatch.setenv(yamlload.MAX_FILE_BYTES_ENV, "1024")
    with pytest.raises(ComposeError, match=r"\.env file is larger than 1024 bytes"):
        parse_env_file(env)
    (tmp_path / "docker-compose.yml").write_text("services:\n  a: {image: 'busybox:${A}'}\n")
    with pytest.raises(ComposeError, match="larger than 1024"):
        load_catalog([tmp_path / "docker-compose.yml"])
    monkeypatch.delenv(yamlload.MAX_FILE_BYTES_ENV)
    assert parse_env_file(env) == {"A": "1"}


def test_bomb_through_the_cli_is_one_line_exit_2(tmp_path):
    p = _string_bomb(tmp_path / "docker-compose.yml", 100_000)
    proc = subprocess.run([sys.executable, "-m", "runbook_lib", "catalog", "-f", str(p)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "excessive aliasing" in proc.stderr


def test_big_variable_used_thousands_of_times_is_refused(tmp_path):
    """A 100 KB .env value used 3,000 times would be 300 MB after interpolation."""
    (tmp_path / ".env").write_text("BIG=" + "y" * 100_000 + "\n")
    p = tmp_path / "docker-compose.yml"
    p.write_text("services:\n  a:\n    image: busybox\n    labels:\n"
                 + "".join(f"      l{i}: ${{BIG}}\n" for i in range(3000)))
    with pytest.raises(ComposeError, match="interpolation makes the file larger.*RUNBOOK_MAX_EXPANDED_BYTES"):
        load_catalog([p])
    p.write_text("services:\n  a:\n    image: busybox\n    labels:\n"
                 + "".join(f"      l{i}: ${{BIG}}\n" for i in range(30)))
    assert len(load_catalog([p]).frame) == 1
