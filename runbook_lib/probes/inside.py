"""Probing from inside a container (port not published): read-only tools run via ``docker exec``.

The docker client of the running round is bound to the probe's thread by the runner
(``bound_client``); kinds read it with ``engine_client()`` and never connect on their own.
Only read-only probing commands run (wget, curl, nc); credentials never go through exec
(the command line shows in ``docker events``).
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runbook_lib.engine import dockerpy
from runbook_lib.probes.conditions import judge_http
from runbook_lib.probes.rows import short
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown

_local = threading.local()


def engine_client() -> Any:
    """The docker client of the running round (None when the engine is not available)."""
    return getattr(_local, "client", None)


@contextmanager
def bound_client(client: Any) -> Iterator[None]:
    """Bind ``client`` to this thread for the probe it runs (the runner's job)."""
    _local.client = client
    try:
        yield
    finally:
        _local.client = None


EXEC_TOOLS = ("wget", "curl", "nc", "timeout")


def detect_tools(container: str, client) -> list[str]:
    """Which probing tools the container's image has (wget, curl, nc, timeout), via a read-only exec."""
    script = "for t in wget curl nc timeout; do command -v $t >/dev/null 2>&1 && echo $t; done; true"
    res = client.api.exec_create(container, ["sh", "-c", script], stdout=True, stderr=False)
    out = client.api.exec_start(res["Id"])
    text = out.decode("utf-8", errors="replace") if isinstance(out, bytes) else str(out)
    return [t for t in text.split() if t in EXEC_TOOLS]


def exec_run(client, container: str, argv: list[str], timeout_s: float) -> tuple[int | None, str]:
    """Run ``argv`` in the container → (exit code, stderr then stdout as text).

    The two streams are read apart (demux) and stderr is put first: interleaved, wget's
    headers on stderr could land in the middle of the body on stdout.
    """
    res = client.api.exec_create(container, argv, stdout=True, stderr=True)
    out, err = client.api.exec_start(res["Id"], demux=True)
    code = client.api.exec_inspect(res["Id"]).get("ExitCode")
    text_out = (out or b"").decode("utf-8", errors="replace")
    text_err = (err or b"").decode("utf-8", errors="replace")
    return code, (text_err.rstrip("\n") + "\n" + text_out) if text_err else text_out


def exec_client(spec: ProbeSpec, client=None):
    """The engine client to exec into ``spec.container`` with, else unknown "port not published"."""
    client = client if client is not None else engine_client()
    if client is None:
        raise ProbeUnknown("port not published and engine unreachable: cannot probe from inside")
    if not spec.container:
        raise ProbeUnknown("port not published (no running container to probe from)")
    return client


def exec_tools(spec: ProbeSpec, client) -> list[str]:
    """``detect_tools`` for ``spec.container``; an engine error → unknown "port not published"."""
    try:
        return detect_tools(spec.container, client)
    except dockerpy.api_errors() as exc:
        raise ProbeUnknown(f"port not published; exec failed: {short(exc, 150)}") from None


def exec_http_get(spec: ProbeSpec, port: int | None, path: str, *, deadline: float | None = None,
                  client=None) -> tuple[int, str]:
    """HTTP GET ``path`` from inside ``spec.container`` with the image's own curl/wget → (status, body).

    Read-only, no credentials. The tool is bounded by the whole seconds left to ``deadline``
    (``time.monotonic()``), else by ``spec.timeout_s``. No engine, container or tool →
    ``ProbeUnknown`` "port not published …"; no HTTP answer → ``ProbeDown`` / ``TimeoutError``.
    """
    client = exec_client(spec, client)
    tools = exec_tools(spec, client)
    if deadline is None:
        t = max(1, int(round(spec.timeout_s)))
    else:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timeout")
        t = max(1, int(left))
    host = str(spec.options.get("exec_host", "127.0.0.1"))
    url = f"http://{host}:{port}{path}"
    marker = "__RUNBOOK_STATUS__"
    if "curl" in tools:
        argv = ["curl", "-s", "-m", str(t), "-o", "-", "-w", f"\n{marker}%{{http_code}}", url]
        code, out = exec_run(client, spec.container, argv, spec.timeout_s)
        body, _, status = out.rpartition(f"\n{marker}")
        if not status.strip().isdigit() or status.strip() == "000":
            raise _exec_fail(code, out)
        return int(status.strip()), body
    if "wget" in tools:
        # `timeout` bounds wget inside the container (some static busybox builds crash on -T)
        argv = (["timeout", str(t), "wget", "-S", "-q", "-O", "-", url] if "timeout" in tools
                else ["wget", "-S", "-q", "-T", str(t), "-O", "-", url])
        code, out = exec_run(client, spec.container, argv, spec.timeout_s)
        if code in (124, 143) and "timeout" in tools:  # killed by timeout(1)
            raise TimeoutError("timeout")
        m = re.findall(r"HTTP/\d(?:\.\d)?\s+(\d{3})", out)
        if not m:
            raise _exec_fail(code, out)
        body = "\n".join(ln for ln in out.splitlines() if not ln.startswith("  ")
                         and not re.match(r"\s*HTTP/\d", ln) and "wget:" not in ln)
        return int(m[-1]), body
    raise ProbeUnknown("port not published and the image has no wget/curl to probe from inside")


def exec_generic(spec: ProbeSpec) -> ProbeOutcome:
    """Probe from inside ``spec.container``: HTTP via wget/curl when ``path`` is set, else nc -z.

    Only read-only probing commands run. No tool in the image → unknown "port not published".
    """
    via = "exec"
    if spec.path or spec.kind == "http":
        status, body = exec_http_get(spec, spec.port, spec.path or "/")
        return _with_via(judge_http(status, body, spec.options), via, spec)
    client = exec_client(spec)
    if "nc" in exec_tools(spec, client):
        host = str(spec.options.get("exec_host", "127.0.0.1"))
        t = max(1, int(round(spec.timeout_s)))
        # busybox nc has no -z: connect with stdin at EOF instead
        script = (f"nc -z -w {t} {host} {int(spec.port)} 2>/dev/null || "
                  f"nc -w {t} {host} {int(spec.port)} </dev/null >/dev/null")
        code, out = exec_run(client, spec.container, ["sh", "-c", script], spec.timeout_s)
        if code == 0:
            return _with_via(ProbeOutcome("up", reply="connected (nc inside the container)"), via, spec)
        return _with_via(ProbeOutcome("down", reply=None, error=f"connect failed inside the container ({short(out.strip(), 120) or code})"), via, spec)
    raise ProbeUnknown("port not published and the image has no nc/wget/curl to probe from inside")


def _exec_fail(code: int | None, out: str) -> Exception:
    low = out.lower()
    if "timed out" in low or "timeout" in low or code == 28:
        return TimeoutError("timeout")
    if "refused" in low or code == 7:
        return ProbeDown("connection refused (inside the container)")
    return ProbeDown(f"no HTTP answer inside the container: {short(out.strip(), 150) or f'exit {code}'}")


def _with_via(outcome: ProbeOutcome, via: str, spec: ProbeSpec) -> ProbeOutcome:
    outcome.via = via
    note = "port not published: probed from inside the container"
    outcome.reply = f"{outcome.reply} ({note})" if outcome.reply else note
    return outcome
