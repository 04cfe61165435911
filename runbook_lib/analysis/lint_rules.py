"""The compose lint rules: each reads a ``LintContext`` and yields ``LintFinding`` records.

``RULES`` is the registry (name -> function); adding a rule is one function and one
entry. Secret values never appear: messages show them masked.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from runbook_lib import knowledge, redact
from runbook_lib.analysis.lint_context import (
    HEALTH_PORT_ENV, LintContext, LintFinding, as_text, data_service, env_items, suggest_healthcheck,
)
from runbook_lib.analysis.lint_context import finding as _finding

_LOCAL_RE = re.compile(
    r"(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*)://)?(?:[^@/\s,;]*@)?"
    r"(?P<host>localhost|127\.0\.0\.1|\[::1\]|[A-Za-z0-9\-]+\.localhost)(?![\w.\-])(?::(?P<port>\d{1,5}))?")
_BROWSER_KEY_RE = re.compile(r"CORS|ORIGIN|PUBLIC|ROOT_URL|REDIRECT|CALLBACK|FRONTEND|BROWSER|EXTERNAL|ADVERTISED",
                             re.IGNORECASE)
_ONE_SHOT_RE = re.compile(r"seed|migrat|init|setup|bootstrap|job|once|backup", re.IGNORECASE)
_WEB_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def rule_localhost(ctx: LintContext) -> Iterator[LintFinding]:
    """Env values / commands that call localhost on another service's port."""
    for svc, spec in ctx.raw.items():
        env = spec.get("environment") or {}
        texts = [(f"environment.{k}", k, str(v)) for k, v in env.items() if v]
        if spec.get("command"):
            texts.append(("command", "command", as_text(spec["command"])))
        own = ctx.own_ports(svc)
        for key, name, value in texts:
            for m in _LOCAL_RE.finditer(value):
                host, port_txt, scheme = m.group("host"), m.group("port"), (m.group("scheme") or "").lower()
                port = int(port_txt) if port_txt else (_WEB_PORTS.get(scheme) or knowledge.scheme_port(scheme))
                if port is None and name.upper().endswith(("_HOST", "_HOSTNAME", "_SERVER")):
                    sibling = re.sub(r"_(HOST|HOSTNAME|SERVER)$", "_PORT", name, flags=re.IGNORECASE)
                    port = int(env[sibling]) if str(env.get(sibling) or "").isdigit() else None
                if port is None or port in own:
                    continue
                browser_key = bool(_BROWSER_KEY_RE.search(name)) and not name.upper().startswith("NEXT_PUBLIC_")
                owners = ctx.port_owners(port, svc, host_first=browser_key)
                if not owners:
                    continue
                target = " or ".join(f"{o}:{port}" for o in owners)
                if name.upper().startswith("NEXT_PUBLIC_"):
                    yield _finding(ctx.where(svc, "environment"), svc, key, "localhost-reference", "medium",
                                   f"{name} points at {host}:{port}, which is {target}: the browser reaches it, "
                                   f"but Next.js also uses NEXT_PUBLIC_* during server-side rendering inside the "
                                   f"{svc} container, where {host} is not {owners[0]}",
                                   f"give server-side code its own URL (e.g. an API_URL_INTERNAL=http://{target}) "
                                   f"and keep {name} for the browser")
                elif _BROWSER_KEY_RE.search(name):
                    yield _finding(ctx.where(svc, "environment"), svc, key, "localhost-reference", "low",
                                   f"{name} points at {host}:{port}, which is {target}; fine only if a browser "
                                   f"(not the container) uses it",
                                   f"if {svc} calls it server-side, use {target} (the service name) instead of {host}")
                else:
                    yield _finding(ctx.where(svc, "environment" if key != "command" else "command"), svc, key,
                                   "localhost-reference", "high",
                                   f"{name} calls {host}:{port}, which is {target}: inside the {svc} container "
                                   f"{host} is {svc} itself, so the call is refused",
                                   f"set {name} to use {target} (the compose service name), then "
                                   f"`docker compose up -d {svc}`")


def rule_dependency_without_healthcheck(ctx: LintContext) -> Iterator[LintFinding]:
    """Services others depend on that have no healthcheck: dependants cannot wait for readiness."""
    for svc, users in ctx.dependents(waiting_for_readiness=True).items():
        spec = ctx.raw[svc]
        if not users or spec.get("has_healthcheck"):
            continue
        names = ", ".join(sorted(users))
        yield _finding(ctx.where(svc), svc, "healthcheck", "dependency-without-healthcheck",
                       "medium" if len(users) < 3 else "high",
                       f"{svc} has no healthcheck, but {names} depend{'s' if len(users) == 1 else ''} on it: "
                       f"{'it' if len(users) == 1 else 'they'} can only wait for it to start, not to be ready "
                       f"(unless its image has a HEALTHCHECK)",
                       f"add {suggest_healthcheck(ctx, svc)}; then make dependants wait with "
                       f"`condition: service_healthy`",
                       mask_fix=False)  # the advice is the technology table's text, never a value


def rule_depends_on_not_healthy(ctx: LintContext) -> Iterator[LintFinding]:
    """depends_on without condition: service_healthy on a dependency that has a healthcheck."""
    for svc, spec in ctx.raw.items():
        for dep in spec.get("depends_on") or []:
            d = dep["service"]
            cond = dep.get("condition") or "service_started"
            if d in ctx.raw and ctx.raw[d].get("has_healthcheck") and cond == "service_started":
                yield _finding(ctx.where(svc, "depends_on"), svc, f"depends_on.{d}", "depends-on-not-healthy",
                               "medium",
                               f"{svc} starts as soon as {d} has started, before {d}'s healthcheck passes, so it "
                               f"fails (and restarts) while {d} is still starting",
                               f"depends_on: {{{d}: {{condition: service_healthy}}}} (mapping form: "
                               f"`{d}:` / `condition: service_healthy`)")


def _health_ports(ctx: LintContext, svc: str) -> list[tuple[int, str]]:
    spec = ctx.raw[svc]
    out: list[tuple[int, str]] = []
    hc = spec.get("healthcheck") or {}
    for m in _LOCAL_RE.finditer(as_text((hc.get("test") or [])[1:])):
        if m.group("port") and (m.group("scheme") or "").lower() in ("http", "https"):
            out.append((int(m.group("port")), "healthcheck.test"))
    for k, v in (spec.get("labels") or {}).items():
        if re.fullmatch(r"traefik\.http\.services\.[^.]+\.loadbalancer\.server\.port", str(k)) and str(v).isdigit():
            out.append((int(v), f"labels.{k}"))
    if spec.get("build") or ctx.tiers.get(svc) == "application":
        env = spec.get("environment") or {}
        for k in HEALTH_PORT_ENV:
            if str(env.get(k) or "").isdigit():
                out.append((int(env[k]), f"environment.{k}"))
                break
    return out


def rule_health_port_unpublished(ctx: LintContext) -> Iterator[LintFinding]:
    """An HTTP health endpoint whose port is not published: only `docker exec` can reach it."""
    for svc in ctx.raw:
        published = ctx.container_ports(svc)
        for port, source in _health_ports(ctx, svc):
            if port in published:
                continue
            yield _finding(ctx.where(svc), svc, "ports", "health-port-unpublished", "low",
                           f"{svc}'s health endpoint listens on port {port} ({source}) but the port is not "
                           f"published: probes from the host (and the runbook) cannot reach it",
                           f'publish it on loopback only: ports: ["127.0.0.1:{port}:{port}"]')
            break


def _is_plain_secret(key: str, value: Any) -> bool:
    """A literal secret under ``key`` (not ``$$(cat …_FILE)``, a path, a class name or a plain URL)."""
    return redact.is_plaintext_secret(key, value)


def _weak_secret(key: str, value: Any, identifiers: set[str]) -> str | None:
    """"weak" or "placeholder" for a literal (no ``$``, not a path) under a secret key, else None."""
    if value is None or isinstance(value, bool) or not redact.is_secret_key(key):
        return None
    text = str(value).strip()
    if not text or "$" in text or text.startswith(("/", "./")):
        return None
    return redact.secret_quality(key, text, identifiers)


def _stack_identifiers(ctx: LintContext) -> set[str]:
    """Names a secret must not equal: services, container names, images."""
    names = set(ctx.raw)
    for spec in ctx.raw.values():
        names.update(str(spec[k]) for k in ("container_name", "image") if spec.get(k))
    return names


def _literal_secret(finder: redact.Redactor, text: str) -> str | None:
    """The masked text when ``text`` holds a literal secret (not a ``${VAR}`` reference), else None."""
    masked = finder.mask_text(text)
    if masked == text:
        return None
    before, after = text.split(), masked.split()
    if len(before) == len(after):
        changed = [b for b, a in zip(before, after) if b != a]
        if changed and all("$" in b for b in changed):
            return None
    return masked


def rule_plaintext_secret(ctx: LintContext) -> Iterator[LintFinding]:
    """Secrets written as literals in a compose file (environment, command, healthcheck)."""
    known: set[str] = set()
    for f, services in ctx.literal.items():
        for svc, spec in services.items():
            for k, v in env_items(spec.get("environment")):
                if _is_plain_secret(k, v):
                    known.add(str(v).strip())
            hc = spec.get("healthcheck") if isinstance(spec.get("healthcheck"), dict) else {}
            for value in (spec.get("command"), spec.get("entrypoint"), (hc or {}).get("test")):
                known.update(v for v in redact.secret_values(as_text(value)) if "$" not in v)
    # values shorter than 8 characters ("admin") are too common to flag wherever they reappear
    finder = redact.Redactor(known=[v for v in known if len(v) >= 8])
    identifiers = _stack_identifiers(ctx)
    for f, services in ctx.literal.items():
        for svc, spec in services.items():
            for k, v in env_items(spec.get("environment")):
                if v is None or isinstance(v, bool):
                    continue
                text = str(v)
                quality = _weak_secret(k, v, identifiers)
                if quality is not None or _is_plain_secret(k, v):
                    if quality is not None:
                        why = ("a placeholder that anyone can guess" if quality == "placeholder"
                               else "a dictionary word or a name of this stack, which anyone can guess")
                        yield _finding(f, svc, f"environment.{k}", "weak-secret", "high",
                                       f"{k} is {why} ({redact.MASK})",
                                       f"generate a random value (e.g. `openssl rand -hex 24`), keep it in an "
                                       f"uncommitted .env and write `{k}: ${{{k}}}`", mask_fix=False)
                        continue
                    yield _finding(f, svc, f"environment.{k}", "plaintext-secret", "high",
                                   f"{k} is written in plain text in the compose file ({redact.MASK})",
                                   f"move the value to an uncommitted .env or env_file (or a Docker secret) and "
                                   f"write `{k}: ${{{k}}}`; rotate it, since it is in version control",
                                   mask_fix=False)
                elif _literal_secret(finder, text) is not None:
                    masked = _literal_secret(finder, text)
                    yield _finding(f, svc, f"environment.{k}", "plaintext-secret", "high",
                                   f"{k} has a literal secret in its value (masked here) -> {masked}",
                                   "build the value from a variable (e.g. `...:${REDIS_PASSWORD}`) kept in an "
                                   "uncommitted .env; rotate the secret", mask_fix=False)
            hc = spec.get("healthcheck") if isinstance(spec.get("healthcheck"), dict) else {}
            for key, value in (("command", spec.get("command")), ("entrypoint", spec.get("entrypoint")),
                               ("healthcheck.test", (hc or {}).get("test"))):
                text = as_text(value)
                masked = _literal_secret(finder, text) if text else None
                if masked is not None:
                    yield _finding(f, svc, key, "plaintext-secret", "high",
                                   f"`{key}` has a literal secret in it (masked here) -> {masked[:200]}",
                                   "pass the secret through the environment (`--requirepass \"$${REDIS_PASSWORD}\"` "
                                   "with CMD-SHELL, `$$VAR` in compose) from an uncommitted .env; rotate it",
                                   mask_fix=False)


def rule_data_volume(ctx: LintContext) -> Iterator[LintFinding]:
    """Data services whose data dir is an anonymous volume or no volume: lost by prune / down."""
    for svc, spec in ctx.raw.items():
        ds = data_service(spec.get("image"))
        if ds is None:
            continue
        dirs = list(ds.data_dirs)
        m = re.search(ds.data_dir_command, as_text(spec.get("command"))) if ds.data_dir_command else None
        if m:
            dirs = [m.group(1)]
        env = spec.get("environment") or {}
        moved = next((env[k] for k in ds.data_dir_env if env.get(k)), None)
        if moved:
            dirs = [str(moved)]
        vols = [v for v in spec.get("volumes") or [] if v.get("target")]

        def covering(d: str) -> dict | None:
            best = None
            for v in vols:
                t = str(v["target"]).rstrip("/") or "/"
                if d == t or d.startswith(t + "/") or t.startswith(d + "/"):
                    if best is None or len(t) > len(str(best["target"])):
                        best = v
            return best

        hits = [(d, covering(d)) for d in dirs]
        if any(v is not None and v.get("type") in ("named", "bind", "volume") for _, v in hits):
            continue
        d, v = next(((d, v) for d, v in hits if v is not None), (dirs[0], None))
        vol_name = f"{svc.replace('-', '_')}_data"
        fix = (f"mount a named volume: volumes: [\"{vol_name}:{d}\"] and declare `{vol_name}:` under the "
               f"top-level volumes; never run `down -v` or `system prune --volumes`")
        if v is not None and v.get("type") == "anonymous":
            yield _finding(ctx.where(svc, "volumes"), svc, "volumes", "data-volume", "high",
                           f"{svc} ({ds.name}) keeps its data in {d} on an anonymous volume: "
                           f"`docker system prune --volumes` or `down -v` deletes it (how the seed outage lost "
                           f"every database)", fix)
        elif v is not None and v.get("type") == "tmpfs":
            yield _finding(ctx.where(svc, "volumes"), svc, "volumes", "data-volume", "medium",
                           f"{svc} ({ds.name}) keeps its data in {d} on tmpfs: lost at every restart", fix)
        elif v is None:
            yield _finding(ctx.where(svc), svc, "volumes", "data-volume", "high",
                           f"{svc} ({ds.name}) has no volume for its data dir {d}: the data lives in an "
                           f"anonymous volume (or the container layer) and is lost by `docker compose down` "
                           f"+ prune or a re-create", fix)


def rule_restart_policy(ctx: LintContext) -> Iterator[LintFinding]:
    """No restart policy: after an engine crash or reboot the service stays down."""
    users = ctx.dependents()
    for svc, spec in ctx.raw.items():
        restart = (spec.get("restart") or "no").strip().lower()
        if restart not in ("no", "none", "", "false"):
            continue
        if _ONE_SHOT_RE.search(svc) or any(_ONE_SHOT_RE.search(p) for p in spec.get("profiles") or []):
            continue
        infra = ctx.tiers.get(svc) == "infrastructure" or data_service(spec.get("image")) is not None
        yield _finding(ctx.where(svc), svc, "restart", "no-restart-policy", "medium" if infra else "low",
                       f"{svc} has no restart policy: after an engine crash or a reboot it stays down"
                       + (f", and so do {', '.join(sorted(users[svc]))} that depend on it" if users[svc] else ""),
                       "restart: unless-stopped")


def _image_tag(image: str) -> str | None:
    if "@sha256:" in image:
        return "@digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def rule_latest_image(ctx: LintContext) -> Iterator[LintFinding]:
    """`:latest` (or untagged) images: a pull or rebuild silently changes the version."""
    for svc, spec in ctx.raw.items():
        image = spec.get("image")
        if not image:
            continue
        tag = _image_tag(str(image))
        if tag not in (None, "latest"):
            continue
        f = ctx.where(svc, "image")
        written = (ctx.literal.get(f, {}).get(svc) or {}).get("image") or image
        built = bool(spec.get("build"))
        yield _finding(f, svc, "image", "latest-image", "low" if built else "medium",
                       f"{svc} uses image `{written}`, which resolves to "
                       f"{'the implicit ' if tag is None else ''}`latest`: "
                       + ("every build overwrites it, so there is nothing to roll back to" if built else
                          "a pull can change the version under you, and a rollback cannot name the old one"),
                       ("tag builds with a version (`${VERSION:?set VERSION}` or a git sha) and keep the previous "
                        "tag" if built else f"pin a version tag (or digest) instead of `{written}`"))


RULES: dict[str, Callable[[LintContext], Iterable[LintFinding]]] = {
    "localhost-reference": rule_localhost,
    "dependency-without-healthcheck": rule_dependency_without_healthcheck,
    "depends-on-not-healthy": rule_depends_on_not_healthy,
    "health-port-unpublished": rule_health_port_unpublished,
    "plaintext-secret": rule_plaintext_secret,
    "data-volume": rule_data_volume,
    "no-restart-policy": rule_restart_policy,
    "latest-image": rule_latest_image,
}
