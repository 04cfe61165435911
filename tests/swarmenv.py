"""Extra Docker engines for tests, each in its own network namespace (never the shared engine).

``EngineLab`` owns a bridge in the host namespace (10.231.N.1/24, N picked per session),
and each ``ExtraEngine`` a network namespace joined to it by a veth pair, with its own
``dockerd`` (own --data-root, --exec-root, --pidfile and unix socket; started with
``nsenter --net=…`` because ``ip netns exec`` remounts /sys and dockerd then fails).
``close()`` leaves the Swarm, stops each daemon by pid, unmounts what it left, removes its
folders, namespaces and links by name: the fixtures call it in a finalizer, so it runs
even when a test fails.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import dockerenv


def _run(*cmd: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-1000:]}")
    return proc


def can_run() -> str | None:
    """None when extra engines can start here, else why not."""
    if os.geteuid() != 0:
        return "extra engines need root (network namespaces, dockerd)"
    for tool in ("ip", "nsenter", "dockerd", "docker"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def new_lab(what: str) -> "EngineLab":
    """An EngineLab, or fail (CI) / skip (elsewhere) saying why extra engines cannot start here."""
    why = can_run()
    if why:
        if dockerenv.in_ci():
            pytest.fail(f"{what} required in CI: {why}")
        pytest.skip(why)
    return EngineLab()


class ExtraEngine:
    """One dockerd in its own network namespace, reachable over a unix socket (and tcp when asked)."""

    def __init__(self, lab: "EngineLab", index: int, tcp: bool = False, extra_args: tuple[str, ...] = ()) -> None:
        self.lab, self.index = lab, index
        self.netns = f"rb{lab.tag}n{index}"
        self.veth_host, self.veth_ns = f"rb{lab.tag}h{index}", f"rb{lab.tag}v{index}"
        self.address = f"{lab.prefix}.{10 + index}"
        self.root = lab.base / f"e{index}"
        self.sock = self.root / "docker.sock"
        self.pidfile = self.root / "docker.pid"
        self.tcp_port = 23750 if tcp else None
        self.extra_args = tuple(extra_args)
        self.pid: int | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    @property
    def tcp_url(self) -> str:
        return f"tcp://{self.address}:{self.tcp_port}"

    def docker(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
               ) -> subprocess.CompletedProcess:
        return _run("docker", "-H", self.url, *args, check=check, input=input, timeout=timeout)

    def start(self) -> "ExtraEngine":
        _run("ip", "netns", "add", self.netns)
        _run("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        _run("ip", "link", "set", self.veth_ns, "netns", self.netns)
        _run("ip", "link", "set", self.veth_host, "master", self.lab.bridge)
        _run("ip", "link", "set", self.veth_host, "up")
        ns = f"--net=/var/run/netns/{self.netns}"
        _run("nsenter", ns, "ip", "link", "set", "lo", "up")
        _run("nsenter", ns, "ip", "addr", "add", f"{self.address}/24", "dev", self.veth_ns)
        _run("nsenter", ns, "ip", "link", "set", self.veth_ns, "up")
        self.root.mkdir(parents=True, exist_ok=True)
        hosts = ["-H", self.url] + (["-H", f"tcp://{self.address}:{self.tcp_port}"] if self.tcp_port else [])
        self._log = open(self.root / "dockerd.log", "wb")
        proc = subprocess.Popen(
            ["nsenter", ns, "dockerd", "--data-root", str(self.root / "data"), "--exec-root",
             str(self.root / "exec"), "--pidfile", str(self.pidfile), *hosts, "--iptables=false",
             "--ip6tables=false", "--bridge=none", "--ip-masq=false", "--userland-proxy=false",
             *self.extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = proc.pid  # nsenter execs dockerd: same pid
        deadline = time.monotonic() + 60
        while self.docker("info", check=False, timeout=20).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "dockerd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"extra dockerd {self.netns} did not start: {log}")
            time.sleep(0.5)
        return self

    def load_image(self, tag: str) -> None:
        """docker save (shared engine) | docker load (this engine): no registry needed."""
        save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
        _run("docker", "-H", self.url, "load", stdin=save.stdout, timeout=120)
        save.wait(timeout=60)

    def stop(self) -> None:
        """Stop the daemon by pid and wait until it is gone (idempotent)."""
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                done = self.pid if not Path(f"/proc/{self.pid}").exists() else 0
            if done:
                break
            time.sleep(0.2)
        else:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.pid = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        if self.pid is not None:
            self.docker("swarm", "leave", "--force", check=False, timeout=30)
        self.stop()
        # containerd shims of this engine live in its exec-root: end them by pid
        for pid in _pids_mentioning(str(self.root)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        _run("ip", "link", "del", self.veth_host, check=False)
        _run("ip", "netns", "del", self.netns, check=False)


def _pids_mentioning(text: str) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if text.encode() in (p / "cmdline").read_bytes():
                out.append(int(p.name))
        except OSError:
            continue
    return out


def _unmount_under(root: Path) -> None:
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    for m in sorted((m for m in mounts if m.startswith(str(root))), key=len, reverse=True):
        _run("umount", "-l", m, check=False)


class EngineLab:
    """A bridge and a set of extra engines; ``close()`` removes everything it made."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:4]
        self.prefix = f"10.231.{random.randint(1, 250)}"
        self.bridge = f"rb{self.tag}br"
        self.base = Path(f"/tmp/rb-engines-{self.tag}")
        self.engines: list[ExtraEngine] = []
        self._bridge_up = False
        self._forward_rule = ("-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT")

    def _ensure_bridge(self) -> None:
        if self._bridge_up:
            return
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        self._bridge_up = True
        _run("ip", "addr", "add", f"{self.prefix}.1/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        # the shared engine sets FORWARD to DROP and br_netfilter sends bridged frames through it
        _run("iptables", "-I", "FORWARD", *self._forward_rule, check=False)

    def engine(self, tcp: bool = False, image: str | None = dockerenv.BUSYBOX_IMAGE,
               extra_args: tuple[str, ...] = ()) -> ExtraEngine:
        self._ensure_bridge()
        eng = ExtraEngine(self, len(self.engines) + 1, tcp=tcp, extra_args=extra_args)
        self.engines.append(eng)
        eng.start()
        if image:
            eng.load_image(image)
        return eng

    def close(self) -> None:
        for eng in reversed(self.engines):
            try:
                eng.close()
            except Exception:  # noqa: BLE001 - clean the rest whatever happens
                pass
        if self._bridge_up:
            _run("iptables", "-D", "FORWARD", *self._forward_rule, check=False)
            _run("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.base, ignore_errors=True)
