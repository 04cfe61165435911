"""Health probes: a registry of kinds, the concurrent round runner, the core kinds.

A *kind* is a function ``(spec: ProbeSpec) -> ProbeOutcome | dict | None`` registered
by name with ``@register("name")``. It may raise: ``run_round`` turns every outcome and
every exception into one row of ``PROBE_COLUMNS`` and never raises itself.

Exceptions → rows:
- timeouts (``TimeoutError``, ``socket.timeout``, httpx/psycopg/redis timeouts) → down,
  error "timeout"; a probe still running at ``timeout_s + HARD_GRACE_S`` is abandoned
  and reported the same way (hard wall-clock bound even if a library ignores its timeout);
- connection refused / reset and other network errors → down;
- ``ProbeDown`` → down with its message; ``ProbeUnknown`` (missing credentials, engine
  unreachable, port not published) → unknown;
- anything else is our own bug → unknown, error "probe error: …" (never down).

Credentials live in ``spec.options`` (keys ``user``, ``password``, ``dbname``) and are
used, never shown: ``spec.target`` and every row text go through ``redact.mask_text``.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.exceptions import RunbookError

PROBE_COLUMNS = ["service", "kind", "target", "via", "state", "ok", "latency_ms", "reply",
                 "detail", "error", "checked_at"]
STATES = ("up", "degraded", "down", "unknown")
DEFAULT_TIMEOUT_S = 2.0
HARD_GRACE_S = 0.5
SECRET_OPTIONS = ("password", "user", "username", "dsn", "url_with_credentials")


class ProbeDown(Exception):
    """Raised by a kind: the service answered wrongly or not at all (state down)."""


class ProbeUnknown(Exception):
    """Raised by a kind: the probe could not run (state unknown, never counted as down)."""


@dataclass(frozen=True)
class ProbeSpec:
    """One check of one service. ``options`` holds kind settings and credentials (never shown).

    Common options: ``expected_status`` (int or list), ``json_path`` + ``json_equals``,
    ``regex``, ``user``/``password``/``dbname``, ``check`` (a label for the status grid).
    ``via`` is "host" (connect to host:port) or "exec" (run a tool inside ``container``).
    """

    service: str
    kind: str
    host: str = "127.0.0.1"
    port: int | None = None
    path: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    options: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    via: str = "host"
    container: str | None = None

    @property
    def target(self) -> str:
        """Where the probe goes, as shown in rows (masked, no credentials)."""
        if self.kind == "docker":
            where = f"container:{(self.container or self.service)[:24]}"
        elif self.via == "exec":
            where = f"exec:{(self.container or '?')[:12]}"
            where += f" {self.options.get('exec_host', '127.0.0.1')}:{self.port}" if self.port else ""
        elif self.port is None:
            where = self.host.rsplit("@", 1)[-1]
        else:
            where = f"{self.host.rsplit('@', 1)[-1]}:{self.port}"
        if self.path:
            where += self.path if self.path.startswith("/") else "/" + self.path
        return redact.mask_text(where)

    @property
    def check(self) -> str:
        """Short label of the check (kind, or kind + path) for grids and audits."""
        return str(self.options.get("check") or (f"{self.kind} {self.path}" if self.path else self.kind))

    def with_(self, **changes: Any) -> ProbeSpec:
        """A copy with fields changed (``options`` merged when given as a dict)."""
        if "options" in changes:
            changes["options"] = {**self.options, **changes["options"]}
        return replace(self, **changes)


@dataclass
class ProbeOutcome:
    """What a kind returns; the runner adds service, kind, target, latency, time."""

    state: str = "up"
    reply: Any = None
    detail: list[dict] = field(default_factory=list)
    error: str | None = None
    latency_ms: float | None = None
    via: str | None = None
    target: str | None = None


Kind = Callable[[ProbeSpec], "ProbeOutcome | dict | None"]
KINDS: dict[str, Kind] = {}
_local = threading.local()


def register(kind: str, func: Kind | None = None):
    """Register a probe kind: ``@register("redis")`` or ``register("redis", fn)``."""
    def deco(f: Kind) -> Kind:
        KINDS[kind] = f
        return f
    return deco(func) if func is not None else deco


def lookup(kind: str) -> Kind:
    """The function of a kind; the error names the kinds that exist."""
    _load_plugins()
    try:
        return KINDS[kind]
    except KeyError:
        raise RunbookError(f"No probe kind named '{kind}'. Known kinds: {', '.join(sorted(KINDS))}. "
                           "Fix the 'kind' in the probes: section of runbook.yaml.") from None


def _load_plugins() -> None:
    """Import probe_kinds.py (protocol kinds) once, if it exists."""
    if getattr(_load_plugins, "done", False):
        return
    _load_plugins.done = True  # type: ignore[attr-defined]
    try:
        import runbook_lib.probes.protocols  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "runbook_lib.probes.protocols":
            raise


def engine_client():
    """The docker client of the running round (None when the engine is not available)."""
    return getattr(_local, "client", None)


# ---------------------------------------------------------------- rows
def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _short(text: Any, limit: int = 300) -> str | None:
    if text is None:
        return None
    s = str(text)
    return s if len(s) <= limit else s[:limit] + "…"


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """(state, error) for an exception raised by a kind."""
    if isinstance(exc, ProbeUnknown):
        return "unknown", str(exc) or "could not run"
    if isinstance(exc, ProbeDown):
        return "down", str(exc) or "down"
    name = type(exc).__name__.lower()
    mod = type(exc).__module__ or ""
    if isinstance(exc, (TimeoutError, socket.timeout)) or "timeout" in name:
        return "down", "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "down", "connection refused"
    if isinstance(exc, (ConnectionError, OSError)):
        return "down", f"{type(exc).__name__}: {exc}"
    if mod.startswith(("httpx", "httpcore", "redis", "psycopg", "kafka", "grpc", "h11")):
        text = str(exc)
        if "timed out" in text.lower() or "timeout" in text.lower():
            return "down", "timeout"
        if "refused" in text.lower():
            return "down", "connection refused"
        return "down", f"{type(exc).__name__}: {text}"
    return "unknown", f"probe error: {type(exc).__name__}: {exc}"


def _row(spec: ProbeSpec, state: str, *, latency_ms: float | None, reply: Any = None,
         detail: list[dict] | None = None, error: str | None = None, via: str | None = None,
         target: str | None = None, checked_at: pd.Timestamp | None = None) -> dict:
    if state not in STATES:
        error = f"probe error: kind returned state {state!r}"
        state = "unknown"
    return {
        "service": redact.mask_identifier(str(spec.service)),
        "kind": spec.kind,
        "target": redact.mask_text(target) if target else spec.target,
        "via": via or spec.via,
        "state": state,
        "ok": state in ("up", "degraded"),
        "latency_ms": None if latency_ms is None else round(float(latency_ms), 2),
        "reply": redact.mask_obj(_short(reply) if isinstance(reply, str) else reply),
        "detail": redact.mask_obj(detail or []),
        "error": redact.mask_text(_short(error, 500)),
        "checked_at": checked_at or _now(),
    }


def _outcome_row(spec: ProbeSpec, result: Any, latency_ms: float, checked_at: pd.Timestamp) -> dict:
    if result is None:
        result = ProbeOutcome()
    if isinstance(result, Mapping):
        result = ProbeOutcome(**{k: v for k, v in result.items() if k in ProbeOutcome.__dataclass_fields__})
    if not isinstance(result, ProbeOutcome):
        return _row(spec, "unknown", latency_ms=latency_ms, checked_at=checked_at,
                    error=f"probe error: kind returned {type(result).__name__}")
    return _row(spec, result.state, latency_ms=result.latency_ms if result.latency_ms is not None else latency_ms,
                reply=result.reply, detail=result.detail, error=result.error, via=result.via,
                target=result.target, checked_at=checked_at)


def probe_once(spec: ProbeSpec, client=None) -> dict:
    """Run one probe in this thread (no hard bound) and return its row; never raises."""
    _local.client = client
    for key, value in spec.options.items():
        if isinstance(value, str) and redact.is_secret_key(key):
            redact.learn(value)  # so it is masked if a library echoes it back
    checked_at = _now()
    t0 = time.perf_counter()
    try:
        func = lookup(spec.kind)
        if spec.via == "exec" and not getattr(func, "handles_exec", False):
            result = exec_generic(spec)
        elif spec.via == "none":
            raise ProbeUnknown(spec.options.get("why_not", "port not published"))
        else:
            result = func(spec)
        return _outcome_row(spec, result, (time.perf_counter() - t0) * 1000.0, checked_at)
    except RunbookError as exc:
        return _row(spec, "unknown", latency_ms=None, error=str(exc), checked_at=checked_at)
    except Exception as exc:  # noqa: BLE001 - a probe never raises
        state, error = classify_exception(exc)
        latency = (time.perf_counter() - t0) * 1000.0
        return _row(spec, state, latency_ms=latency if state == "down" else None, error=error,
                    checked_at=checked_at)
    finally:
        _local.client = None


def run_round(specs: Iterable[ProbeSpec], max_workers: int | None = None, client=None,
              grace_s: float = HARD_GRACE_S) -> pd.DataFrame:
    """Run every probe concurrently, each bounded by its ``timeout_s`` (+ grace); never raises.

    A round of N probes takes about the slowest timeout. ``max_workers`` caps the probes in
    flight (default: all). ``client`` is the docker client for docker/exec probes (or None).
    """
    specs = list(specs)
    _load_plugins()
    n = len(specs)
    rows: list[dict | None] = [None] * n
    if n == 0:
        return empty_rows()
    limit = max(1, min(max_workers or n, n))
    done = threading.Condition()
    finished: set[int] = set()
    started_at: dict[int, float] = {}
    checked: dict[int, pd.Timestamp] = {}
    pending = list(range(n - 1, -1, -1))  # stack, pop() gives 0, 1, 2 …
    in_flight: set[int] = set()

    def work(i: int) -> None:
        try:
            row = probe_once(specs[i], client)
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt inside a kind
            row = _row(specs[i], "unknown", latency_ms=None, error=f"probe error: {type(exc).__name__}")
        with done:
            if rows[i] is None:
                rows[i] = row
            finished.add(i)
            done.notify()

    with done:
        while pending or in_flight:
            while pending and len(in_flight) < limit:
                i = pending.pop()
                in_flight.add(i)
                started_at[i] = time.monotonic()
                checked[i] = _now()
                try:
                    threading.Thread(target=work, args=(i,), daemon=True, name=f"probe-{specs[i].service}").start()
                except RuntimeError as exc:  # cannot start a thread: this probe could not run
                    rows[i] = _row(specs[i], "unknown", latency_ms=None, checked_at=checked[i],
                                   error=f"probe error: {exc}")
                    finished.add(i)
            for i in list(in_flight):
                if i in finished:
                    in_flight.discard(i)
            now = time.monotonic()
            next_deadline = None
            for i in list(in_flight):
                deadline = started_at[i] + max(0.0, float(specs[i].timeout_s)) + grace_s
                if now >= deadline:
                    if getattr(KINDS.get(specs[i].kind), "timeout_is_unknown", False):
                        rows[i] = _row(specs[i], "unknown", latency_ms=None, checked_at=checked[i],
                                       error="engine did not answer in time: container state not read")
                    else:
                        rows[i] = _row(specs[i], "down", latency_ms=(now - started_at[i]) * 1000.0,
                                       error="timeout", checked_at=checked[i])
                    in_flight.discard(i)  # abandoned: the daemon thread ends on its own
                else:
                    next_deadline = deadline if next_deadline is None else min(next_deadline, deadline)
            if pending and len(in_flight) < limit:
                continue
            if in_flight:
                done.wait(timeout=max(0.0, (next_deadline or now) - time.monotonic()) + 0.001)
    return rows_frame([r for r in rows if r is not None])


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows → frame: text columns keep None (object dtype), latency float, ok bool, checked_at UTC."""
    df = pd.DataFrame(rows, columns=PROBE_COLUMNS, dtype=object)
    df["latency_ms"] = pd.to_numeric(df["latency_ms"], errors="coerce").astype("float64")
    df["ok"] = df["ok"].astype(bool)
    df["checked_at"] = pd.to_datetime(df["checked_at"], utc=True)
    return df


def empty_rows() -> pd.DataFrame:
    """A probe-rows frame with no rows."""
    return rows_frame([])


# ---------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Thresholds:
    """Consecutive-result thresholds (as Kubernetes/Docker): ``failure_threshold`` downs in a
    row to go down, ``success_threshold`` ups in a row to come back; samples within
    ``start_period_s`` after ``started_at`` do not count as failures. Unknown samples are
    skipped (neither failure nor success)."""

    failure_threshold: int = 3
    success_threshold: int = 2
    start_period_s: float = 0.0

    @classmethod
    def from_config(cls, values: Mapping[str, Any] | None) -> Thresholds:
        """From runbook.yaml's ``thresholds:`` keys (failure, success, start_period_s)."""
        v = dict(values or {})
        return cls(failure_threshold=int(v.get("failure", 3)), success_threshold=int(v.get("success", 2)),
                   start_period_s=float(v.get("start_period_s", 0.0)))


def apply_thresholds(rows: pd.DataFrame, thresholds: Thresholds | None = None,
                     started_at: pd.Timestamp | None = None,
                     keys: tuple[str, ...] = ("service", "kind", "target")) -> pd.DataFrame:
    """Rows over time → the same rows plus ``effective_state`` and ``transition`` (pure).

    Per probe (``keys``), in ``checked_at`` order: the first known sample sets the effective
    state (no transition); then ``failure_threshold`` consecutive downs make it "down" and
    ``success_threshold`` consecutive ups/degradeds bring it back. ``transition`` is "down",
    "up" or None. Raw samples are all kept.
    """
    th = thresholds or Thresholds()
    out = rows.copy()
    out["effective_state"] = None
    out["transition"] = None
    if out.empty:
        return out
    keys = tuple(k for k in keys if k in out.columns)
    order = out.sort_values("checked_at", kind="stable").index
    groups: dict[tuple, dict] = {}
    for idx in order:
        key = tuple(out.at[idx, k] for k in keys)
        g = groups.setdefault(key, {"state": None, "fails": 0, "oks": 0})
        raw = out.at[idx, "state"]
        ts = out.at[idx, "checked_at"]
        in_start = (started_at is not None and th.start_period_s > 0 and ts is not None
                    and (pd.Timestamp(ts) - pd.Timestamp(started_at)).total_seconds() < th.start_period_s)
        transition = None
        if raw == "down" and not in_start:
            g["fails"] += 1
            g["oks"] = 0
            if g["state"] is None:
                g["state"] = "down"
            elif g["state"] != "down" and g["fails"] >= th.failure_threshold:
                g["state"], transition = "down", "down"
        elif raw in ("up", "degraded"):
            g["oks"] += 1
            g["fails"] = 0
            if g["state"] is None or (g["state"] != "down"):
                g["state"] = raw
            elif g["oks"] >= th.success_threshold:
                g["state"], transition = raw, "up"
        out.at[idx, "effective_state"] = g["state"] or "unknown"
        out.at[idx, "transition"] = transition
    return out


def probe_summary(rows: pd.DataFrame) -> dict:
    """Counts by state for the report's JSON summary (unknown = lost coverage, not down)."""
    counts = {s: int((rows["state"] == s).sum()) if not rows.empty else 0 for s in STATES}
    total = int(len(rows))
    known = total - counts["unknown"]
    failing = rows[rows["state"].isin(["down", "degraded"])] if not rows.empty else rows
    return {
        "probes_total": total,
        "probes_by_state": counts,
        "probe_coverage_pct": round(100.0 * known / total, 1) if total else None,
        "probes_failing": [
            {"service": r.service, "kind": r.kind, "state": r.state, "error": r.error}
            for r in failing.itertuples()],
        "probes_unknown": [
            {"service": r.service, "kind": r.kind, "error": r.error}
            for r in rows[rows["state"] == "unknown"].itertuples()] if total else [],
        "probe_status": ("down" if counts["down"] else "degraded" if counts["degraded"]
                         else "up" if total and counts["up"] else "unknown"),
    }


# ---------------------------------------------------------------- conditions (pure)
def _json_path_get(obj: Any, path: str) -> Any:
    """Minimal JSON path: ``$.a.b[0].c`` or ``a.b.0.c``; KeyError when missing."""
    p = path.strip()
    if p.startswith("$"):
        p = p[1:]
    tokens = [t for t in re.split(r"\.|\[|\]", p) if t != ""]
    cur = obj
    for t in tokens:
        t = t.strip("'\"")
        if isinstance(cur, list):
            cur = cur[int(t)]
        elif isinstance(cur, Mapping):
            cur = cur[t]
        else:
            raise KeyError(t)
    return cur


def check_body(body: str, options: Mapping[str, Any]) -> str | None:
    """Evaluate the optional json_path / regex conditions; return the failure text or None."""
    regex = options.get("regex")
    if regex and not re.search(str(regex), body or ""):
        return f"body does not match regex {regex!r}"
    jp = options.get("json_path")
    if jp:
        try:
            value = _json_path_get(json.loads(body), str(jp))
        except (ValueError, KeyError, IndexError, TypeError):
            return f"json path {jp} not found in body"
        if "json_equals" in options and value != options["json_equals"] and str(value) != str(options["json_equals"]):
            return f"json path {jp} is {_short(value, 60)!r}, expected {options['json_equals']!r}"
        if "json_equals" not in options and not value:
            return f"json path {jp} is empty/false"
    return None


def parse_terminus(body: Any) -> tuple[str, list[dict]] | None:
    """NestJS Terminus ``{status, info, error, details}`` → (overall, component rows), or None.

    overall is "up" when every component is up, "degraded" when some are down and some up,
    "down" when all are down (or the body says error with no components).
    """
    if not isinstance(body, Mapping) or "status" not in body:
        return None
    if not any(k in body for k in ("info", "error", "details")):
        return None
    comps: dict[str, dict] = {}
    for section in ("details", "info", "error"):
        part = body.get(section)
        if isinstance(part, Mapping):
            for name, val in part.items():
                if name not in comps:
                    comps[name] = val if isinstance(val, Mapping) else {"status": str(val)}
    rows = []
    for name, val in comps.items():
        status = str(val.get("status", "unknown")).lower()
        extra = {k: v for k, v in val.items() if k != "status"}
        rows.append({"component": name, "status": status,
                     "message": _short(json.dumps(extra, default=str), 200) if extra else None})
    downs = sum(1 for r in rows if r["status"] != "up")
    status = str(body.get("status")).lower()
    if not rows:
        overall = "up" if status == "ok" else "down"
    elif downs == 0:
        overall = "up" if status in ("ok", "up") else "degraded"
    elif downs == len(rows):
        overall = "down"
    else:
        overall = "degraded"
    return overall, rows


def _expected(options: Mapping[str, Any]) -> Callable[[int], bool]:
    exp = options.get("expected_status")
    if exp is None:
        return lambda code: 200 <= code < 400
    if isinstance(exp, (list, tuple, set)):
        allowed = {int(x) for x in exp}
        return lambda code: code in allowed
    return lambda code: code == int(exp)


def judge_http(code: int, body: str, options: Mapping[str, Any]) -> ProbeOutcome:
    """Status code + body → outcome (pure; shared by host and exec http probes)."""
    reply = f"HTTP {code}"
    parsed: Any = None
    try:
        parsed = json.loads(body) if body and body.lstrip()[:1] in "{[" else None
    except ValueError:
        parsed = None
    terminus = parse_terminus(parsed) if options.get("terminus", True) else None
    detail = terminus[1] if terminus else []
    if terminus and code in (200, 503):
        overall, _ = terminus
        err = None if overall == "up" else "components down: " + ", ".join(
            d["component"] for d in detail if d["status"] != "up")
        cond = check_body(body, options)
        if cond and overall == "up":
            return ProbeOutcome("down", reply=reply, detail=detail, error=cond)
        return ProbeOutcome(overall, reply=reply, detail=detail, error=err)
    if not _expected(options)(code):
        return ProbeOutcome("down", reply=reply, detail=detail, error=f"unexpected status {code}")
    cond = check_body(body, options)
    if cond:
        return ProbeOutcome("down", reply=reply, detail=detail, error=cond)
    return ProbeOutcome("up", reply=reply, detail=detail)


# ---------------------------------------------------------------- core kinds
MAX_BODY_BYTES = 256 * 1024


@register("http")
def probe_http(spec: ProbeSpec) -> ProbeOutcome:
    """HTTP GET: expected status, optional json_path/regex, Terminus components."""
    import httpx
    scheme = spec.options.get("scheme", "http")
    url = f"{scheme}://{spec.host}:{spec.port}{spec.path or '/'}" if spec.port else f"{scheme}://{spec.host}{spec.path or '/'}"
    timeout = httpx.Timeout(spec.timeout_s)
    headers = dict(spec.options.get("headers") or {})
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=bool(spec.options.get("verify_tls", False)),
                      trust_env=False) as cx:
        with cx.stream(spec.options.get("method", "GET"), url, headers=headers) as resp:
            chunks, size = [], 0
            deadline = time.monotonic() + spec.timeout_s
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_BODY_BYTES:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("timeout")
            body = b"".join(chunks)[:MAX_BODY_BYTES].decode("utf-8", errors="replace")
            return judge_http(resp.status_code, body, spec.options)


@register("tcp")
def probe_tcp(spec: ProbeSpec) -> ProbeOutcome:
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


@register("docker")
def probe_docker(spec: ProbeSpec) -> ProbeOutcome:
    """The container's own state and HEALTHCHECK result, read from the engine."""
    client = engine_client()
    if client is None:
        raise ProbeUnknown("engine unreachable: container state not read")
    ref = spec.container or spec.options.get("container_name") or spec.service
    import docker.errors
    try:
        info = client.api.inspect_container(ref)
    except docker.errors.NotFound:
        return ProbeOutcome("down", reply="no container", error=f"no container {ref}")
    except Exception as exc:  # noqa: BLE001 - the engine failed us, not the service
        raise ProbeUnknown(f"engine did not answer ({type(exc).__name__}): container state not read") from None
    st = info.get("State") or {}
    status = st.get("Status")
    health = (st.get("Health") or {}).get("Status")
    log = (st.get("Health") or {}).get("Log") or []
    last = (log[-1].get("Output") or "").strip() if log else None
    reply = f"{status}/{health or 'no healthcheck'}"
    if status != "running":
        return ProbeOutcome("down", reply=reply, error=f"container {status} (exit {st.get('ExitCode')})")
    if health == "unhealthy":
        return ProbeOutcome("down", reply=reply, error=_short(last or "unhealthy", 300))
    if health == "starting":
        return ProbeOutcome("degraded", reply=reply, error="healthcheck starting")
    return ProbeOutcome("up", reply=reply)


probe_docker.timeout_is_unknown = True  # a hung engine is lost coverage, not a down service


def _credentials(spec: ProbeSpec, *names: str) -> tuple:
    return tuple(spec.options.get(n) for n in names)


@register("postgres")
def probe_postgres(spec: ProbeSpec) -> ProbeOutcome:
    """PostgreSQL: connect with the compose credentials, ``SELECT 1``."""
    import psycopg
    user, password, dbname = _credentials(spec, "user", "password", "dbname")
    if not user:
        raise ProbeUnknown("missing credentials (POSTGRES_PASSWORD not found in the service's environment "
                           "or its clients'); set user and password under probes: in runbook.yaml")
    try:
        conn = psycopg.connect(host=spec.host, port=int(spec.port or 5432), user=user,
                               password=password or None, dbname=dbname or user,
                               connect_timeout=max(1, int(round(spec.timeout_s))),
                               options=f"-c statement_timeout={int(spec.timeout_s * 1000)}",
                               application_name="runbook-probe")
    except psycopg.OperationalError as exc:
        text = str(exc)
        low = text.lower()
        if "password authentication failed" in low or "authentication failed" in low or "no password supplied" in low:
            raise ProbeDown("authentication failed: check the service's POSTGRES_USER/POSTGRES_PASSWORD") from None
        if "timeout" in low or "timed out" in low:
            raise TimeoutError("timeout") from None
        if "refused" in low:
            raise ConnectionRefusedError("connection refused") from None
        if "does not exist" in low:
            raise ProbeDown(_short(text.strip().splitlines()[-1], 200)) from None
        raise ProbeDown(_short(" ".join(text.split()), 300)) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            value = cur.fetchone()
        version = conn.info.server_version
    finally:
        conn.close()
    if not value or value[0] != 1:
        return ProbeOutcome("down", reply=str(value), error="SELECT 1 returned something else")
    return ProbeOutcome("up", reply=f"SELECT 1 ok (server {version // 10000}.{version % 10000})")


@register("redis")
def probe_redis(spec: ProbeSpec) -> ProbeOutcome:
    """Redis PING with the password from ``--requirepass`` / REDIS_PASSWORD."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    password, user = _credentials(spec, "password", "user")
    r = None
    try:
        # single_connection_client connects (and authenticates) in the constructor
        r = redis.Redis(host=spec.host, port=int(spec.port or 6379), password=password or None,
                        username=user or None, socket_timeout=spec.timeout_s,
                        socket_connect_timeout=spec.timeout_s, retry=Retry(NoBackoff(), 0),
                        single_connection_client=True)
        pong = r.ping()
    except redis.exceptions.AuthenticationError:
        if not password:
            raise ProbeUnknown("missing credentials (redis requires a password; none found in "
                               "the service's command or REDIS_PASSWORD)") from None
        raise ProbeDown("authentication failed: check requirepass / REDIS_PASSWORD") from None
    except redis.exceptions.ResponseError as exc:
        low = str(exc).lower()
        if "noauth" in low or "auth" in low:
            if not password:
                raise ProbeUnknown("missing credentials (redis requires a password; none found in "
                                   "the service's command or REDIS_PASSWORD)") from None
            raise ProbeDown("authentication failed: check requirepass / REDIS_PASSWORD") from None
        raise ProbeDown(f"redis error: {exc}") from None
    except redis.exceptions.TimeoutError:
        raise TimeoutError("timeout") from None
    except redis.exceptions.ConnectionError as exc:
        low = str(exc).lower()
        if "timeout" in low or "timed out" in low:
            raise TimeoutError("timeout") from None
        if "refused" in low:
            raise ConnectionRefusedError("connection refused") from None
        if "noauth" in low or "authentication" in low:
            raise ProbeDown("authentication failed: check requirepass / REDIS_PASSWORD") from None
        raise ProbeDown(f"redis connection error: {exc}") from None
    except redis.exceptions.RedisError as exc:
        raise ProbeDown(f"redis error: {type(exc).__name__}: {exc}") from None
    except (AttributeError, TypeError, ValueError, IndexError) as exc:  # the library choked on the reply
        raise ProbeDown(f"not a Redis reply ({type(exc).__name__} while parsing it)") from None
    finally:
        if r is not None:
            r.close()
    if not pong:
        return ProbeOutcome("down", reply=str(pong), error="PING did not get PONG: not a Redis server?")
    return ProbeOutcome("up", reply="PONG")


# ---------------------------------------------------------------- probing from inside a container
EXEC_TOOLS = ("wget", "curl", "nc", "timeout")


def detect_tools(container: str, client) -> list[str]:
    """Which probing tools the container's image has (wget, curl, nc, timeout), via a read-only exec."""
    script = "for t in wget curl nc timeout; do command -v $t >/dev/null 2>&1 && echo $t; done; true"
    res = client.api.exec_create(container, ["sh", "-c", script], stdout=True, stderr=False)
    out = client.api.exec_start(res["Id"])
    text = out.decode("utf-8", errors="replace") if isinstance(out, bytes) else str(out)
    return [t for t in text.split() if t in EXEC_TOOLS]


def _exec(client, container: str, argv: list[str], timeout_s: float) -> tuple[int | None, str]:
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


def _exec_client(spec: ProbeSpec, client=None):
    """The engine client to exec into ``spec.container`` with, else unknown "port not published"."""
    client = client if client is not None else engine_client()
    if client is None:
        raise ProbeUnknown("port not published and engine unreachable: cannot probe from inside")
    if not spec.container:
        raise ProbeUnknown("port not published (no running container to probe from)")
    return client


def _exec_tools(spec: ProbeSpec, client) -> list[str]:
    """``detect_tools`` for ``spec.container``; an engine error → unknown "port not published"."""
    import docker.errors
    try:
        return detect_tools(spec.container, client)
    except docker.errors.APIError as exc:
        raise ProbeUnknown(f"port not published; exec failed: {_short(exc, 150)}") from None


def exec_http_get(spec: ProbeSpec, port: int | None, path: str, *, deadline: float | None = None,
                  client=None) -> tuple[int, str]:
    """HTTP GET ``path`` from inside ``spec.container`` with the image's own curl/wget → (status, body).

    Read-only, no credentials. The tool is bounded by the whole seconds left to ``deadline``
    (``time.monotonic()``), else by ``spec.timeout_s``. No engine, container or tool →
    ``ProbeUnknown`` "port not published …"; no HTTP answer → ``ProbeDown`` / ``TimeoutError``.
    """
    client = _exec_client(spec, client)
    tools = _exec_tools(spec, client)
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
        code, out = _exec(client, spec.container, argv, spec.timeout_s)
        body, _, status = out.rpartition(f"\n{marker}")
        if not status.strip().isdigit() or status.strip() == "000":
            raise _exec_fail(code, out)
        return int(status.strip()), body
    if "wget" in tools:
        # `timeout` bounds wget inside the container (some static busybox builds crash on -T)
        argv = (["timeout", str(t), "wget", "-S", "-q", "-O", "-", url] if "timeout" in tools
                else ["wget", "-S", "-q", "-T", str(t), "-O", "-", url])
        code, out = _exec(client, spec.container, argv, spec.timeout_s)
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
    client = _exec_client(spec)
    if "nc" in _exec_tools(spec, client):
        host = str(spec.options.get("exec_host", "127.0.0.1"))
        t = max(1, int(round(spec.timeout_s)))
        # busybox nc has no -z: connect with stdin at EOF instead
        script = (f"nc -z -w {t} {host} {int(spec.port)} 2>/dev/null || "
                  f"nc -w {t} {host} {int(spec.port)} </dev/null >/dev/null")
        code, out = _exec(client, spec.container, ["sh", "-c", script], spec.timeout_s)
        if code == 0:
            return _with_via(ProbeOutcome("up", reply="connected (nc inside the container)"), via, spec)
        return _with_via(ProbeOutcome("down", reply=None, error=f"connect failed inside the container ({_short(out.strip(), 120) or code})"), via, spec)
    raise ProbeUnknown("port not published and the image has no nc/wget/curl to probe from inside")


def _exec_fail(code: int | None, out: str) -> Exception:
    low = out.lower()
    if "timed out" in low or "timeout" in low or code == 28:
        return TimeoutError("timeout")
    if "refused" in low or code == 7:
        return ProbeDown("connection refused (inside the container)")
    return ProbeDown(f"no HTTP answer inside the container: {_short(out.strip(), 150) or f'exit {code}'}")


def _with_via(outcome: ProbeOutcome, via: str, spec: ProbeSpec) -> ProbeOutcome:
    outcome.via = via
    note = "port not published: probed from inside the container"
    outcome.reply = f"{outcome.reply} ({note})" if outcome.reply else note
    return outcome


# ---------------------------------------------------------------- CLI
def format_table(rows: pd.DataFrame) -> str:
    """Rows → a plain-text table (already masked)."""
    if rows.empty:
        return "no probes"
    cols = ["service", "kind", "state", "latency_ms", "target", "via", "reply", "error"]
    data = []
    for r in rows.itertuples():
        lat = "" if r.latency_ms is None or pd.isna(r.latency_ms) else f"{r.latency_ms:.0f}"
        data.append([str(r.service), str(r.kind), str(r.state), lat, str(r.target), str(r.via),
                     _short(_text(r.reply), 40) or "", _short(_text(r.error), 60) or ""])
    widths = [max(len(c), *(len(row[i]) for row in data)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in data]
    return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def rows_to_json(rows: pd.DataFrame) -> list[dict]:
    """Rows → JSON-ready dicts (timestamps as ISO strings, NaN as null)."""
    out = []
    for rec in rows.to_dict(orient="records"):
        rec = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else
                   None if isinstance(v, float) and v != v else v) for k, v in rec.items()}
        out.append(rec)
    return out


@dataclass
class StackProbe:
    """One round over a whole stack: rows (one per check), the discovery audit, what was run."""

    rows: pd.DataFrame
    all_rows: pd.DataFrame
    specs: list[ProbeSpec]
    audit: pd.DataFrame
    notes: list[str]
    engine_ok: bool
    project: str | None = None


def probe_stack(compose_files: list[str] | None = None, project: str | None = None,
                config_path: str | None = None, engine_url: str | None = None,
                engine_timeout_s: float = 5.0, timeout_s: float | None = None, client=None,
                catalog=None, discovery_cache: dict | None = None) -> StackProbe:
    """Find the stack (compose files from the containers' labels when not given), derive the
    probes with no configuration, run one round. Engine down → probes still run from the catalog.
    ``discovery_cache`` (a dict kept across rounds) pins each app's working health path."""
    from runbook_lib.compose import catalog as compose
    from runbook_lib.engine import connection as connect
    from runbook_lib.engine import inventory as inv_mod
    from runbook_lib.probes import derive as probe_derive
    from runbook_lib import config as rb_config
    from runbook_lib.exceptions import ComposeError
    notes: list[str] = []
    err = None
    if client is None:
        client, err = connect.try_connect(engine_url, engine_timeout_s)
    if err is not None:
        notes.append(f"engine unavailable ({err}); probing from the compose files only, container checks unknown")
    inventory = None

    def gather(proj: str | None) -> None:
        nonlocal inventory, client
        if client is None:
            return
        try:
            inventory = inv_mod.gather_inventory(client, project=proj)
            notes.extend(inventory.attrs.get("notes", []))
        except Exception as exc:  # noqa: BLE001 - degrade, never stop the round
            notes.append(f"inventory failed ({type(exc).__name__}: {exc}); container checks unknown")
            inventory, client = None, None

    cfg = rb_config.load_config(config_path)
    if catalog is None:
        files = list(compose_files or [])
        if not files:
            gather(project)
            if inventory is None:
                raise ComposeError("cannot find the compose files: the Docker engine is unreachable.",
                                   fix="pass --compose FILE (repeat for overrides).")
            files, project = compose.find_compose_files(inventory, project)
        catalog = compose.load_catalog(files, project_name=project, config=cfg)
        notes.extend(catalog.notes)
    if inventory is None:
        gather(getattr(catalog, "project", None) or project)
    if inventory is not None and catalog.project and "project" in inventory.columns:
        inventory = inventory[inventory["project"] == catalog.project]  # other projects' containers never match
    specs = probe_derive.derive_probes(catalog, inventory, cfg, timeout_s=timeout_s,
                                       engine_up=client is not None)
    if discovery_cache is not None:
        specs = probe_derive.use_discovery_cache(specs, discovery_cache)
    all_rows = run_round(specs, client=client)
    if discovery_cache is not None:
        probe_derive.update_discovery_cache(discovery_cache, specs, all_rows)
    rows = probe_derive.collapse_discovery(all_rows, specs)
    audit = probe_derive.endpoint_audit(all_rows, specs)
    return StackProbe(rows=rows, all_rows=all_rows, specs=specs, audit=audit,
                      notes=[redact.mask_text(n) for n in notes], engine_ok=client is not None,
                      project=getattr(catalog, "project", None))


def stack_summary(res: StackProbe) -> dict:
    """The JSON summary for reports: counts by state, coverage, failing checks, the endpoint
    standardisation picture; status "degraded" with reasons when the engine was unreachable."""
    from runbook_lib.probes import derive as probe_derive
    out = probe_summary(res.rows)
    out["endpoint_audit"] = probe_derive.standardisation(res.audit)
    if not res.engine_ok:
        out["status"] = "degraded"
        out["degraded_reasons"] = [n for n in res.notes if n.startswith("engine unavailable")] or ["engine unavailable"]
    return out


def probe_engine_stacks(inventory: pd.DataFrame, client=None, compose_files: list[str] | None = None,
                        project: str | None = None, config_path: str | None = None,
                        engine_url: str | None = None, engine_timeout_s: float = 5.0) -> tuple[StackProbe | None, list[str]]:
    """Probe every compose project the inventory shows (or the one asked for) in one result.

    Compose files given explicitly, or one project: one ``probe_stack``. Otherwise each project
    whose containers carry their compose files is probed; a project whose files cannot be read
    here is skipped with a note. Returns (combined result or None, notes).
    """
    from runbook_lib.exceptions import RunbookError
    notes: list[str] = []
    if compose_files or project or inventory is None or inventory.empty:
        targets = [project]
    else:
        targets = sorted(p for p in inventory["project"].dropna().unique())
        if not targets:
            return None, ["no compose project among the containers: nothing to probe natively "
                          "(pass compose_files to probe a stack)"]
    results: list[StackProbe] = []
    for proj in targets:
        try:
            results.append(probe_stack(compose_files=compose_files, project=proj, config_path=config_path,
                                       engine_url=engine_url, engine_timeout_s=engine_timeout_s, client=client))
        except RunbookError as exc:
            notes.append(redact.mask_text(f"probes skipped for project {proj or '(auto)'}: {exc}"))
    if not results:
        return None, notes
    if len(results) == 1:
        return results[0], notes + results[0].notes
    def cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [f for f in frames if f is not None and not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else results[0].rows.iloc[0:0]
    merged = StackProbe(rows=cat([r.rows for r in results]), all_rows=cat([r.all_rows for r in results]),
                        specs=[s for r in results for s in r.specs],
                        audit=cat([r.audit for r in results]) if any(not r.audit.empty for r in results) else results[0].audit,
                        notes=[n for r in results for n in r.notes], engine_ok=all(r.engine_ok for r in results),
                        project=None)
    return merged, notes + merged.notes
