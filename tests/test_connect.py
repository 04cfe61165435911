"""Engine connection: URL resolution and the three engine faults, each with its own error."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runbook_lib.engine import connection as connect
from runbook_lib.exceptions import EngineNotRunning, EnginePermissionDenied, EngineTimeout

REPO = Path(__file__).resolve().parents[1]


def test_explicit_url_wins(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    assert connect.resolve_engine("unix:///x.sock") == connect.EngineTarget("unix:///x.sock", "explicit")


def _docker_cli(config_dir: Path, *args: str) -> None:
    subprocess.run(["docker", *args], env={**os.environ, "DOCKER_CONFIG": str(config_dir)},
                   check=True, capture_output=True, timeout=60)


def test_docker_host_then_context(monkeypatch, tmp_path):
    """DOCKER_HOST wins; then the current context, as the docker CLI itself created and chose it."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert connect.resolve_engine().source == "DOCKER_HOST"
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    _docker_cli(tmp_path, "context", "create", "remote", "--docker", "host=unix:///run/other.sock")
    _docker_cli(tmp_path, "context", "use", "remote")
    target = connect.resolve_engine()
    assert target == connect.EngineTarget("unix:///run/other.sock", "context:remote")


def test_docker_context_variable_names_the_context(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    _docker_cli(tmp_path, "context", "create", "other", "--docker", "host=tcp://127.0.0.1:2399")
    (tmp_path / "config.json").write_text(json.dumps({"auths": {}}))
    monkeypatch.setenv("DOCKER_CONTEXT", "other")
    assert connect.resolve_engine() == connect.EngineTarget("tcp://127.0.0.1:2399", "context:other")
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert connect.resolve_engine().source == "default"
    monkeypatch.setenv("DOCKER_CONTEXT", "no-such-context")
    assert connect.resolve_engine().source == "default"


def test_default_socket(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert connect.resolve_engine().url == connect.DEFAULT_SOCKET


def test_missing_socket_is_not_running(tmp_path):
    with pytest.raises(EngineNotRunning) as err:
        connect.connect(f"unix://{tmp_path}/nope.sock", timeout_s=1)
    assert "does not exist" in str(err.value) and "dockerd" in str(err.value)


def test_refused_tcp_is_not_running():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(EngineNotRunning) as err:
        connect.connect(f"tcp://127.0.0.1:{port}", timeout_s=1)
    assert "not running" in str(err.value)


def _silent_server(family, address):
    """Accepts connections and never answers."""
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind(address)
    srv.listen(16)
    held = []
    stop = threading.Event()

    def loop():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                continue
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return srv, stop, held


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_daemon_that_never_answers_times_out(tmp_path, kind):
    if kind == "unix":
        path = str(tmp_path / "silent.sock")
        srv, stop, held = _silent_server(socket.AF_UNIX, path)
        url = f"unix://{path}"
    else:
        srv, stop, held = _silent_server(socket.AF_INET, ("127.0.0.1", 0))
        url = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    try:
        with pytest.raises(EngineTimeout) as err:
            connect.connect(url, timeout_s=0.5)
        assert "did not answer within 0.5 s" in str(err.value)
    finally:
        stop.set()
        srv.close()
        for c in held:
            c.close()


def test_try_connect_returns_error_instead_of_raising(tmp_path):
    client, error = connect.try_connect(f"unix://{tmp_path}/none.sock", timeout_s=1)
    assert client is None and isinstance(error, EngineNotRunning)


def test_permission_denied_on_real_socket(docker_client):
    """A user outside the docker group is told to join it (run as 'nobody')."""
    sock = "/var/run/docker.sock"
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from runbook_lib.engine import connection as connect\n"
            "from runbook_lib.exceptions import EnginePermissionDenied\n"
            "try:\n    connect.connect('unix://%s', timeout_s=2)\n"
            "except EnginePermissionDenied as e:\n    print('DENIED', e); sys.exit(0)\n"
            "sys.exit(1)\n") % (str(REPO), sock)
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "docker' group" in proc.stdout


def test_connect_real_engine(docker_client):
    client = connect.connect(timeout_s=5)
    assert client.ping()
