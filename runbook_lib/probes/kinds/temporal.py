"""temporal probe kind: Temporal frontend: gRPC ``grpc.health.v1.Health/Check`` (WorkflowService,
then ""); TCP if unimplemented.
"""
from __future__ import annotations

import time

import grpc

from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown
from runbook_lib.probes.wire import connect, remaining

GRPC_HEALTH_METHOD = "/grpc.health.v1.Health/Check"
TEMPORAL_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"
_HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def encode_health_request(service: str) -> bytes:
    """HealthCheckRequest{string service = 1} in protobuf wire format."""
    if not service:
        return b""
    data = service.encode()
    length, varint = len(data), bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x0a" + bytes(varint) + data


def decode_health_response(data: bytes) -> int:
    """HealthCheckResponse{ServingStatus status = 1} → the status number (0 when absent)."""
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        value, shift = 0, 0
        if tag & 0x07 == 0:  # varint
            while i < len(data):
                b = data[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if tag >> 3 == 1:
                return value
        else:
            raise ProbeDown("gRPC health reply is not a HealthCheckResponse")
    return 0


class Temporal(ProbeKind):
    """The temporal probe kind."""

    name = "temporal"
    libraries = ('grpcio',)

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """Temporal frontend: gRPC ``grpc.health.v1.Health/Check`` (WorkflowService, then ""); TCP if unimplemented."""
        if not spec.port:
            raise ProbeUnknown("no port to probe: add one in runbook.yaml")
        deadline = time.monotonic() + spec.timeout_s
        services = [s for s in (spec.options.get("grpc_service", TEMPORAL_SERVICE), "") if s is not None]
        channel = grpc.insecure_channel(f"{spec.host}:{spec.port}",
                                        options=[("grpc.enable_retries", 0), ("grpc.max_receive_message_length", 65536)])
        try:
            check = channel.unary_unary(GRPC_HEALTH_METHOD)  # no serializers: bytes in, bytes out
            for service in dict.fromkeys(services):
                try:
                    raw = check(encode_health_request(service), timeout=remaining(deadline))
                except grpc.RpcError as exc:
                    code = exc.code()
                    if code == grpc.StatusCode.NOT_FOUND:
                        continue
                    if code == grpc.StatusCode.UNIMPLEMENTED:
                        with connect(spec.host, spec.port, deadline):
                            pass
                        return ProbeOutcome("up", reply="gRPC health service not implemented; TCP connect ok")
                    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                        raise TimeoutError("timeout") from None
                    details = (exc.details() or "").strip()
                    if "refused" in details.lower():
                        raise ConnectionRefusedError("connection refused") from None
                    raise ProbeDown(f"not a plaintext gRPC server (wrong port, or TLS enabled?): gRPC {code.name}: "
                                    f"{details.rpartition('UNAVAILABLE: ')[2][:150]}") from None
                status = decode_health_response(raw)
                name = _HEALTH_STATUS.get(status, str(status))
                label = service or "server"
                detail = [{"component": label, "status": name, "message": None}]
                if status == 1:
                    return ProbeOutcome("up", reply=f"{label}: SERVING", detail=detail)
                if status == 2:
                    return ProbeOutcome("down", reply=f"{label}: NOT_SERVING", detail=detail,
                                        error="frontend reports NOT_SERVING")
                if status == 3:
                    continue
                return ProbeOutcome("degraded", reply=f"{label}: {name}", detail=detail,
                                    error=f"health status {name}")
            return ProbeOutcome("degraded", reply="no health status for the frontend service",
                                error="gRPC health knows neither the WorkflowService nor the server")
        finally:
            channel.close()
