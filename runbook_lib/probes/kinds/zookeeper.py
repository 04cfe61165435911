"""zookeeper probe kind: ZooKeeper ``ruok`` → ``imok`` and ``srvr`` (mode, latency); words not
whitelisted → not down.
"""
from __future__ import annotations

import time

from runbook_lib.probes.inside import detect_tools, engine_client, exec_run
from runbook_lib.probes.kinds.base import ProbeKind, outcome
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown
from runbook_lib.probes.wire import connect, recv_all, remaining

_ZK_SERVING = ("standalone", "leader", "follower", "observer")


def zk_four_letter(host: str, port: int, word: str, deadline: float) -> str:
    """Send a four-letter word; the server answers and closes the connection."""
    with connect(host, port, deadline) as sock:
        sock.sendall(word.encode("ascii"))
        return recv_all(sock, deadline).decode("utf-8", errors="replace")


def _zk_exec(spec: ProbeSpec, word: str, deadline: float) -> str:
    client = engine_client()
    if client is None or not spec.container:
        raise ProbeUnknown("port not published and no container/engine to probe from inside")
    if "nc" not in detect_tools(spec.container, client):
        raise ProbeUnknown("port not published and the image has no nc to send four-letter words from inside")
    host = str(spec.options.get("exec_host", "127.0.0.1"))
    t = max(1, int(remaining(deadline)))
    _, out = exec_run(client, spec.container,
                          ["sh", "-c", f"printf {word} | nc -w {t} {host} {int(spec.port)}"], spec.timeout_s)
    return out


def parse_srvr(text: str) -> dict[str, str]:
    """``srvr`` output → {"Mode": …, "Latency min/avg/max": …, …}."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


class Zookeeper(ProbeKind):
    """The zookeeper probe kind."""

    name = "zookeeper"
    handles_exec = True

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """ZooKeeper ``ruok`` → ``imok`` and ``srvr`` (mode, latency); words not whitelisted → not down."""
        if not spec.port:
            raise ProbeUnknown("no port to probe: add one in runbook.yaml")
        deadline = time.monotonic() + spec.timeout_s
        via = spec.via

        def ask(word: str) -> str:
            if via == "exec":
                return _zk_exec(spec, word, deadline)
            return zk_four_letter(spec.host, int(spec.port), word, deadline)

        ruok = ask("ruok").strip()
        ruok_blocked = "not in the whitelist" in ruok
        if ruok and ruok != "imok" and not ruok_blocked and "not currently serving" not in ruok:
            raise ProbeDown(f"ruok answered {ruok[:40]!r}, not 'imok': not ZooKeeper?")
        srvr = ask("srvr")
        srvr_blocked = "not in the whitelist" in srvr
        info = parse_srvr(srvr)
        mode = info.get("Mode", "").lower()
        detail = []
        if info:
            detail.append({"component": "server", "status": mode or "?",
                           "message": ", ".join(f"{k} {info[k]}" for k in
                                                ("Latency min/avg/max", "Outstanding", "Node count", "Connections")
                                                if k in info)})
        out_via = "exec" if via == "exec" else "host"
        if "not currently serving" in srvr or "not currently serving" in ruok:
            return outcome("down", "not serving", via=out_via,
                            error="ZooKeeper runs but is not serving requests (no quorum?)")
        if mode in _ZK_SERVING:
            reply = f"{'imok' if ruok == 'imok' else 'ruok not whitelisted'}, mode {mode}"
            if "Latency min/avg/max" in info:
                reply += f", latency {info['Latency min/avg/max']} ms"
            return outcome("up", reply, via=out_via, detail=detail)
        if mode == "read-only":
            return outcome("degraded", "mode read-only", via=out_via, detail=detail,
                            error="read-only: partitioned from the quorum")
        if ruok == "imok" and srvr_blocked:
            return outcome("up", "imok (srvr not whitelisted)", via=out_via)
        if ruok_blocked and srvr_blocked:
            return outcome("degraded", "4lw not whitelisted", via=out_via,
                            error="ZooKeeper answered but ruok/srvr are not whitelisted: add "
                                  "4lw.commands.whitelist=ruok,srvr (ZOOKEEPER_4LW_COMMANDS_WHITELIST)")
        if not ruok and not srvr:
            raise ProbeDown("connection closed with no reply to ruok/srvr: not ZooKeeper, or not serving")
        if srvr.strip() and not info:
            raise ProbeDown(f"srvr answered {srvr.strip()[:40]!r}: not ZooKeeper?")
        return outcome("degraded", f"imok, mode {mode or '?'}", via=out_via, detail=detail,
                        error="srvr did not report a serving mode")
