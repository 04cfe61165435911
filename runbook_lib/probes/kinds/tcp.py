"""tcp probe kind: TCP connect (and optional ``send``/``expect`` bytes)."""
from __future__ import annotations

import socket

from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.spec import ProbeOutcome, ProbeSpec, ProbeUnknown


class Tcp(ProbeKind):
    """The tcp probe kind."""

    name = "tcp"

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """TCP connect (and optional ``send``/``expect`` bytes)."""
        if not spec.port:
            raise ProbeUnknown("no port to probe: add one in runbook.yaml")
        with socket.create_connection((spec.host, int(spec.port)), timeout=spec.timeout_s) as s:
            send = spec.options.get("send")
            if send:
                s.sendall(send.encode() if isinstance(send, str) else send)
                data = s.recv(4096)
                expect = spec.options.get("expect")
                text = data.decode("utf-8", errors="replace")
                if expect and str(expect) not in text:
                    return ProbeOutcome("down", reply=text[:120], error=f"reply lacks {expect!r}")
                return ProbeOutcome("up", reply=text[:120])
        return ProbeOutcome("up", reply="connected")
