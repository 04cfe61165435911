"""ssh:// engines for real: a local sshd (Debian's openssh-server) on 127.0.0.1 with keys the test makes.

docker-py's ssh transport (``use_ssh_client=True`` in ``engine.hosts``) runs the ``ssh`` binary,
which runs ``docker system dial-stdio`` on the far side, here the real local engine. The test
puts an ``ssh`` wrapper first on PATH that adds its own client config (the key, no host key
prompt), so nothing in ~/.ssh is read or written. sshd is killed by pid and every file removed,
even when a test fails.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

import dockerenv
from runbook_lib.cli import main
from runbook_lib.engine.hosts import connect_host, parse_host
from runbook_lib.engine.inventory import PROJECT_LABEL, SERVICE_LABEL, gather_inventory
from runbook_lib.history import store as st

SSHD = Path("/usr/sbin/sshd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _sshd_config(d: Path, port: int) -> Path:
    cfg = d / "sshd_config"
    cfg.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}", "PermitRootLogin prohibit-password", "StrictModes no",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "X11Forwarding no",
        "AllowTcpForwarding no", "PrintMotd no", "LogLevel ERROR", ""]))
    return cfg


def _client(d: Path) -> Path:
    """An ``ssh`` first on PATH: the real client with this test's key and no host key prompt."""
    (d / "ssh_config").write_text("\n".join([
        "Host 127.0.0.1", f"  IdentityFile {d / 'id_user'}", "  IdentitiesOnly yes", "  BatchMode yes",
        "  StrictHostKeyChecking no", "  UserKnownHostsFile /dev/null", "  LogLevel ERROR", ""]))
    bindir = d / "bin"
    bindir.mkdir()
    wrapper = bindir / "ssh"
    wrapper.write_text(f"#!/bin/sh\nexec {shutil.which('ssh') or '/usr/bin/ssh'} -F {d / 'ssh_config'} \"$@\"\n")
    wrapper.chmod(0o755)
    return bindir


@pytest.fixture(scope="module")
def sshd(docker_client):
    """(ssh URL, PATH with the wrapper) of an sshd on 127.0.0.1 that lets root in with the test's key."""
    if not SSHD.exists() or not shutil.which("ssh") or os.geteuid() != 0:
        why = "needs root, /usr/sbin/sshd (openssh-server, scripts/test-deps.sh) and the ssh client"
        if dockerenv.in_ci():
            pytest.fail(why)
        pytest.skip(why)
    d = Path(tempfile.mkdtemp(prefix="runbook-sshd-"))
    proc = None
    try:
        _keygen(d / "host_key")
        _keygen(d / "id_user")
        shutil.copy(d / "id_user.pub", d / "authorized_keys")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        port = _free_port()
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(_sshd_config(d, port)), "-p", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def listening() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"sshd exited: {proc.stdout.read()}")
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex(("127.0.0.1", port)) == 0
        dockerenv.wait_for(listening, timeout_s=30)
        bindir = _client(d)
        yield {"url": f"ssh://root@127.0.0.1:{port}", "path": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    finally:
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ssh_project(containers, sshd, monkeypatch) -> str:
    monkeypatch.setenv("PATH", sshd["path"])
    name = f"rbssh{dockerenv.SESSION_ID[:6]}"
    containers(["sleep", "3600"], name="sshweb", labels={PROJECT_LABEL: name, SERVICE_LABEL: "web"},
               network_mode="none")
    return name


@pytest.mark.docker
def test_inventory_over_ssh_matches_the_local_engine(docker_client, sshd, ssh_project):
    client = connect_host(parse_host(f"a={sshd['url']}"), 30)
    try:
        inv = gather_inventory(client, project=ssh_project)
        local = gather_inventory(docker_client, project=ssh_project)
    finally:
        client.close()
    assert list(inv["service"]) == ["web"] and list(inv["id"]) == list(local["id"])
    assert inv.iloc[0]["state"] == "running"


@pytest.mark.docker
def test_diagnose_and_collect_over_ssh(docker_client, sshd, ssh_project, tmp_path, capsys):
    hosts = ["--host", f"a={sshd['url']}", "--host", "gone=ssh://root@127.0.0.1:1"]
    code = main(["diagnose", *hosts, "--project", ssh_project, "--json", "--engine-timeout", "20"])
    doc = json.loads(capsys.readouterr().out)
    by_host = {h["host"]: h for h in doc["hosts"]}
    assert by_host["a"]["reachable"] and by_host["a"]["containers"] == 1, doc["hosts"]
    assert not by_host["gone"]["reachable"] and by_host["gone"]["error"]
    assert code in (0, 1)

    store_path = tmp_path / "ssh.sqlite3"
    code = main(["collect", *hosts, "--project", ssh_project, "--count", "1", "--interval", "1",
                 "--engine-timeout", "20", "--store", str(store_path)])
    assert code == 0, capsys.readouterr()
    with st.open_store(store_path, readonly=True) as s:
        smp = s.samples()
    assert list(zip(smp["host"], smp["service"], smp["state"])) == [("a", "web", "up")]
