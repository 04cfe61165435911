"""The demo stack: a small compose project shaped like the seed system, on any engine.

`runbook demo up` builds a FROM-scratch image holding the host's static busybox (no
registry needed) and, from it, images holding the host's PostgreSQL and redis-server,
writes a compose file describing the demo services (so the catalog, plan and lint work
on it) and creates the containers through the Docker API with the
compose labels, on a user-defined network ``<project>_default``. Ports are published on
127.0.0.1 only. The services reproduce the seed outage's failure kinds:

- postgres, redis, kafka: infrastructure (kafka without a healthcheck) that answers the native
  probes truthfully: postgres and redis are the real servers copied from the host (binary, the
  shared libraries ``ldd`` lists, postgres' share dir) into images built FROM the busybox
  image and cached by a recipe hash label; kafka is a Kafka wire-protocol responder (busybox
  ``nc -ll -e`` + sh/awk: ApiVersions, Metadata). Without the host binaries redis is a RESP
  stand-in and postgres a TCP stand-in (its probe then says down; ``shows`` says why);
- master-data: healthy NestJS-like app with a Terminus ``/health``;
- auth: ``Error: Cannot find module '@opentelemetry/api'`` then exit 1 (exited);
- workflow: TypeScript ``error TS2339`` compile errors, restart always (restarting);
- api-gateway: ``connect ECONNREFUSED 127.0.0.1:3001`` (calls localhost, not ``auth``),
  ``/health`` answers 503 (unhealthy);
- notification: OOM-killed for real (16 MB limit, exit 137);
- rules-engine: healthcheck runs ``curl`` which the image lacks (unhealthy).

`demo down` removes only containers and the network carrying ``runbook.demo=1`` and the
project label; never volumes (the demo creates none).
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runbook_lib import redact
from runbook_lib.exceptions import RunbookError
from runbook_lib.engine.inventory import (CONFIG_FILES_LABEL, PROJECT_LABEL, SERVICE_LABEL, WORKDIR_LABEL,
                                   gather_inventory)

DEMO_PROJECT = "demo"
DEMO_LABEL_KEY = "runbook.demo"
DEMO_LABEL = f"{DEMO_LABEL_KEY}=1"
DEMO_IMAGE = "runbook-demo-busybox:1"
DEFAULT_PORT_BASE = 18000
ONEOFF_LABEL = "com.docker.compose.oneoff"
NETWORK_LABEL = "com.docker.compose.network"
COMPOSE_VERSION = "2.24.0"  # the compose version label a recreate (`docker compose up -d --no-deps`) expects
# Demo credentials: fake, present so the reports can show them masked.
DEMO_PG_PASSWORD = "demo-pg-s3cret-7f3a"
DEMO_REDIS_PASSWORD = "demo-redis-s3cret-91bc"
DEMO_JWT_SECRET = "demo-jwt-s3cret-2d4e"


class DemoError(RunbookError):
    """The demo stack could not be started or removed."""


# -- the shell snippets the services run --------------------------------------------
_PRELUDE = r"""
ts() { date -u '+%m/%d/%Y, %I:%M:%S %p'; }
nest() { printf '[Nest] 1  - %s %7s [%s] %s\n' "$(ts)" "$1" "$2" "$3"; }
trap 'exit 0' TERM INT
idle() { while :; do sleep 5 & wait $!; done; }
"""

_TERMINUS_OK = ('{"status":"ok","info":{"database":{"status":"up"},"redis":{"status":"up"}},'
                '"error":{},"details":{"database":{"status":"up"},"redis":{"status":"up"}}}')
_TERMINUS_DOWN = ('{"status":"error","info":{"redis":{"status":"up"}},'
                  '"error":{"auth":{"status":"down","message":"connect ECONNREFUSED 127.0.0.1:3001"}},'
                  '"details":{"redis":{"status":"up"},'
                  '"auth":{"status":"down","message":"connect ECONNREFUSED 127.0.0.1:3001"}}}')


def _httpd_app(port: int, name: str, ctx: str) -> str:
    return _PRELUDE + f"""
mkdir -p /www
printf '%s' '{_TERMINUS_OK}' > /www/health
nest LOG NestFactory 'Starting Nest application...'
nest LOG InstanceLoader 'TypeOrmModule dependencies initialized'
nest LOG InstanceLoader 'TerminusModule dependencies initialized'
nest LOG RoutesResolver '{ctx} {{/api/v1/{name}}}:'
nest LOG RouterExplorer 'Mapped {{/health, GET}} route'
httpd -p {port} -h /www
nest LOG NestApplication 'Nest application successfully started'
nest LOG Bootstrap '{name} listening on port {port}'
idle
"""


_AUTH = _PRELUDE + r"""
nest LOG NestFactory 'Starting Nest application...'
nest LOG TypeOrmModule "Connecting to $DATABASE_URL"
cat >&2 <<'EOF'
node:internal/modules/cjs/loader:1148
  throw err;
  ^

Error: Cannot find module '@opentelemetry/api'
Require stack:
- /app/node_modules/.pnpm/@opentelemetry+sdk-trace-base@1.17.0/node_modules/@opentelemetry/sdk-trace-base/build/src/Tracer.js
- /app/dist/telemetry/tracing.js
- /app/dist/main.js
    at Module._resolveFilename (node:internal/modules/cjs/loader:1145:15)
    at Module._load (node:internal/modules/cjs/loader:986:27)
    at Module.require (node:internal/modules/cjs/loader:1233:19)
    at require (node:internal/modules/cjs/helpers:177:18)
    at Object.<anonymous> (/app/dist/telemetry/tracing.js:4:15)
    at Module._compile (node:internal/modules/cjs/loader:1358:14) {
  code: 'MODULE_NOT_FOUND',
  requireStack: [
    '/app/dist/telemetry/tracing.js',
    '/app/dist/main.js'
  ]
}

Node.js v20.11.1
EOF
exit 1
"""

_WORKFLOW = _PRELUDE + r"""
echo '> @vextrus/workflow@1.0.0 start:dev /app'
echo '> nest start'
echo
echo "$(date -u '+%I:%M:%S %p') - Starting compilation in watch mode..."
echo
sleep 1
cat <<'EOF'
src/activities/index.ts:42:10 - error TS2339: Property 'sendApprovalNotification' does not exist on type 'typeof import("/app/src/activities/notification.activities")'.

42   return sendApprovalNotification(input);
            ~~~~~~~~~~~~~~~~~~~~~~~~

src/workflows/invoice-approval.workflow.ts:18:5 - error TS2322: Type 'string' is not assignable to type 'Duration'.

18     startToCloseTimeout: timeout,
       ~~~~~~~~~~~~~~~~~~~

EOF
echo "$(date -u '+%I:%M:%S %p') - Found 2 errors. Watching for file changes."
sleep 1
exit 1
"""

_GATEWAY = _PRELUDE + r"""
lo="127.0.0.$((1))"  # how Node resolves the host of AUTH_SERVICE_URL
port=${AUTH_SERVICE_URL##*:}; port=${port%%/*}
cat > /tmp/health.sh <<'EOF'
#!/bin/sh
read -r _request
body='__BODY__'
printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "${#body}" "$body"
EOF
body=$(echo '__TERMINUS__' | sed "s/@LO@/$lo/g; s/@PORT@/$port/g; s/@SVC@/a""uth/g")
sed -i "s|__BODY__|$body|" /tmp/health.sh
chmod +x /tmp/health.sh
nest LOG NestFactory 'Starting Nest application...'
nest LOG GraphQLGatewayModule "Loading subgraph auth from $AUTH_SERVICE_URL"
nc -ll -p 4000 -e /tmp/health.sh &
n=0
while :; do
  n=$((n+1))
  nest ERROR GraphQLGatewayModule "Error: connect ECONNREFUSED $lo:$port"
  echo '    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {'
  echo "  errno: -111, code: 'ECONNREFUSED', syscall: 'connect', address: '$lo', port: $port"
  echo '}'
  nest WARN GraphQLGatewayModule "Subgraph auth unavailable, retrying in 5s (attempt $n)"
  sleep 5 & wait $!
done
""".replace("__TERMINUS__", _TERMINUS_DOWN.replace("127.0.0.1:3001", "@LO@:@PORT@").replace('"auth"', '"@SVC@"'))

_NOTIFICATION = _PRELUDE + r"""
nest LOG NestFactory 'Starting Nest application...'
nest LOG TemplateCacheService 'Warming template cache (all locales)...'
sleep 1
x=$(head -c 200000000 /dev/zero | tr '\0' x)
nest LOG TemplateCacheService "cache ready (${#x} bytes)"
idle
"""

_POSTGRES_BANNER = r"""
d() { date -u '+%Y-%m-%d %H:%M:%S.000 UTC'; }
echo "$(d) [1] LOG:  starting PostgreSQL 16.1 on x86_64-pc-linux-musl"
echo "$(d) [1] LOG:  listening on IPv4 address \"0.0.0.0\", port 5432"
echo "$(d) [1] LOG:  database system is ready to accept connections"
"""
_KAFKA_BANNER = r"""
k() { date -u '+%Y-%m-%d %H:%M:%S,000'; }
echo "[$(k)] INFO Registered broker 1 at path /brokers/ids/1 with addresses: PLAINTEXT://kafka:9092 (kafka.zk.KafkaZkClient)"
echo "[$(k)] INFO [KafkaServer id=1] started (kafka.server.KafkaServer)"
"""

# -- real servers copied from the host (FROM the busybox image) -----------------------
PG_DATA = "/var/lib/postgresql/data"

# The real PostgreSQL, set up the way the official image's entrypoint does on first start:
# initdb as the non-root postgres user (superuser POSTGRES_USER, password from a file that
# is removed afterwards, scram), a pg_hba line for the network, POSTGRES_DB created in
# single-user mode, then the server on 0.0.0.0. Without the binaries: the old TCP stand-in.
_POSTGRES = _PRELUDE + r"""
PGBIN=$(echo /usr/lib/postgresql/*/bin)
if [ -x "$PGBIN/postgres" ]; then
  export PGBIN PGDATA=__PGDATA__ TZ=UTC
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    umask 077
    printf '%s\n' "${POSTGRES_PASSWORD}" > /tmp/.pwfile && chown postgres /tmp/.pwfile
    su -s /bin/sh postgres -c '"$PGBIN/initdb" -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --pwfile=/tmp/.pwfile -A scram-sha-256 --no-locale -E UTF8 --no-sync' 2>/tmp/.initdb.err
    rc=$?; rm -f /tmp/.pwfile; grep -v 'locale' /tmp/.initdb.err >&2; rm -f /tmp/.initdb.err
    [ "$rc" -eq 0 ] || exit 1
    echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
    if [ -n "${POSTGRES_DB}" ] && [ "${POSTGRES_DB}" != "${POSTGRES_USER:-postgres}" ]; then
      echo "CREATE DATABASE \"${POSTGRES_DB}\";" | su -s /bin/sh postgres -c '"$PGBIN/postgres" --single -D "$PGDATA" -j postgres' >/dev/null || exit 1
    fi
  fi
  exec su -s /bin/sh postgres -c 'exec "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses=0.0.0.0 -c unix_socket_directories=/tmp -c shared_buffers=16MB -c max_connections=20'
fi
__BANNER__
nc -ll -p 5432 -e /bin/cat &
idle
""".replace("__PGDATA__", PG_DATA).replace("__BANNER__", _POSTGRES_BANNER)

# A protocol-faithful Redis stand-in (RESP) for hosts without redis-server: AUTH, PING,
# HELLO/CLIENT/SELECT/ECHO/QUIT; NOAUTH before AUTH, WRONGPASS on a wrong password.
_RESP_SH = r"""#!/bin/sh
exec 2>/dev/null
cr=$(printf '\r')
ok=no; [ -z "$REDIS_PASSWORD" ] && ok=yes
reply() { printf '%s\r\n' "$1"; }
while read -r head; do
  head=${head%"$cr"}
  case $head in
    '*'*) n=${head#?}; set --
          while [ "$n" -gt 0 ]; do read -r _len; read -r a; set -- "$@" "${a%"$cr"}"; n=$((n-1)); done ;;
    '') continue ;;
    *) set -- $head ;;
  esac
  cmd=$(echo "$1" | tr a-z A-Z)
  case $cmd in
    AUTH) pw=$2; [ $# -ge 3 ] && pw=$3
          if [ "$pw" = "$REDIS_PASSWORD" ]; then ok=yes; reply +OK
          else reply '-WRONG''PASS invalid username-password pair or user is disabled.'; fi ;;
    HELLO) proto=${2:-2}; shift; [ $# -gt 0 ] && shift
          if [ "$1" = AUTH ] || [ "$1" = auth ]; then
            if [ "$3" = "$REDIS_PASSWORD" ]; then ok=yes
            else reply '-WRONG''PASS invalid username-password pair or user is disabled.'; continue; fi
          fi
          if [ "$ok" != yes ]; then reply '-NO''AUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time'; continue; fi
          case $proto in 2) reply '*14' ;; 3) reply '%7' ;; *) reply '-NOPROTO unsupported protocol version'; continue ;; esac
          for kv in server redis version 7.2.4 proto "$proto" id 1 mode standalone role master; do
            case $kv in "$proto"|1) reply ":$kv" ;; *) reply "\$${#kv}"; reply "$kv" ;; esac
          done
          reply '$7'; reply modules; reply '*0' ;;
    *) if [ "$ok" != yes ]; then reply '-NO''AUTH Authentication required.'; continue; fi
       case $cmd in
         PING) if [ $# -ge 2 ]; then reply "\$${#2}"; reply "$2"; else reply +PONG; fi ;;
         ECHO) reply "\$${#2}"; reply "$2" ;;
         SELECT|CLIENT) reply +OK ;;
         *) reply "-ERR unknown command '$1', with args beginning with: " ;;
       esac ;;
  esac
done
"""

_REDIS = _PRELUDE + r"""
if [ -x /usr/bin/redis-server ]; then
  exec redis-server --bind 0.0.0.0 --port 6379 --protected-mode no --requirepass "${REDIS_PASSWORD}" --save '' --appendonly no
fi
cat > /tmp/resp.sh <<'EOF'
__RESP__EOF
chmod +x /tmp/resp.sh
echo "1:M $(date -u '+%d %b %Y %H:%M:%S.000') * Server initialized (RESP stand-in: AUTH, PING)"
echo "1:M $(date -u '+%d %b %Y %H:%M:%S.000') * Ready to accept connections tcp"
nc -ll -p 6379 -e /tmp/resp.sh &
idle
""".replace("__RESP__", _RESP_SH)

# Kafka wire protocol (kafka.apache.org/protocol), one request at a time per connection:
# size-prefixed requests, header v1 (api_key, api_version, correlation_id, client_id).
# ApiVersions v0 → the ranges below; a newer ApiVersions → error 35 UNSUPPORTED_VERSION in
# the v0 format (KIP-511), as a broker does; Metadata v0/v1 → this broker (advertised
# listener), controller = itself, requested topics UNKNOWN_TOPIC_OR_PARTITION (3); anything
# else: the connection is closed. awk turns the request bytes into the response as octal
# escapes that printf writes.
_KAFKA_AWK = r"""
function o(x) { return sprintf("\\%03o", x) }
function i16(x) { if (x < 0) x += 65536; return o(int(x / 256) % 256) o(x % 256) }
function i32(x) { if (x < 0) x += 4294967296; return o(int(x / 16777216) % 256) o(int(x / 65536) % 256) o(int(x / 256) % 256) o(x % 256) }
function s16(p) { return (b[p] * 256 + b[p + 1] + 32768) % 65536 - 32768 }
function s32(p) { return ((b[p] * 16777216 + b[p + 1] * 65536 + b[p + 2] * 256 + b[p + 3]) + 2147483648) % 4294967296 - 2147483648 }
function str(s,   r, i) { r = i16(length(s)); for (i = 1; i <= length(s); i++) r = r o(ord[substr(s, i, 1)]); return r }
BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i }
{ for (i = 1; i <= NF; i++) b[++n] = $i }
END {
  if (n < 10) exit
  api = s16(1); ver = s16(3); cid = o(b[5]) o(b[6]) o(b[7]) o(b[8])
  p = 9; cl = s16(p); p += 2; if (cl > 0) p += cl
  if (api == 18) {
    body = i16(ver > 0 ? 35 : 0) i32(2) i16(3) i16(0) i16(1) i16(18) i16(0) i16(0)
  } else if (api == 3 && (ver == 0 || ver == 1)) {
    body = i32(1) i32(node) str(host) i32(port)
    if (ver == 1) body = body i16(-1) i32(node)
    nt = (p + 3 <= n) ? s32(p) : 0; p += 4; topics = ""; cnt = 0
    for (t = 0; t < nt && p + 1 <= n; t++) {
      l = s16(p); name = i16(l); for (j = 0; j < l; j++) name = name o(b[p + 2 + j]); p += 2 + l
      topics = topics i16(3) name (ver == 1 ? o(0) : "") i32(0); cnt++
    }
    body = body i32(cnt) topics
  } else exit
  msg = cid body
  printf "%s%s", i32(length(msg) / 4), msg
}
"""

_KAFKA_SH = r"""#!/bin/sh
exec 2>/dev/null
adv=${KAFKA_ADVERTISED_LISTENERS:-PLAINTEXT://kafka:9092}; adv=${adv%%,*}; adv=${adv##*//}
while :; do
  set -- $(dd bs=1 count=4 | od -An -v -tu1)
  [ $# -eq 4 ] || exit 0
  size=$(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 ))
  [ "$size" -ge 10 ] && [ "$size" -le 65536 ] || exit 0
  out=$(dd bs=1 count="$size" | od -An -v -tu1 | awk -v node="${KAFKA_BROKER_ID:-1}" -v host="${adv%:*}" -v port="${adv##*:}" -f /tmp/kafka.awk)
  [ -n "$out" ] || exit 0
  printf "$out"
done
"""

_KAFKA = _PRELUDE + r"""
cat > /tmp/kafka.awk <<'EOF'
__AWK__EOF
cat > /tmp/kafka.sh <<'EOF'
__SH__EOF
chmod +x /tmp/kafka.sh
__BANNER__
nc -ll -p 9092 -e /tmp/kafka.sh &
idle
""".replace("__AWK__", _KAFKA_AWK.lstrip("\n")).replace("__SH__", _KAFKA_SH).replace("__BANNER__", _KAFKA_BANNER)


def host_postgres() -> dict[str, str] | None:
    """The newest host PostgreSQL with postgres + initdb (Debian layout), or None."""
    found = []
    for bindir in glob.glob("/usr/lib/postgresql/*/bin"):
        version = Path(bindir).parent.name
        share = f"/usr/share/postgresql/{version}"
        if all(os.access(f"{bindir}/{b}", os.X_OK) for b in ("postgres", "initdb")) and os.path.isdir(share):
            found.append((int(version) if version.isdigit() else 0, version, bindir, share))
    if not found:
        return None
    _, version, bindir, share = max(found)
    return {"version": version, "bindir": bindir, "share": share, "lib": str(Path(bindir).parent / "lib")}


def host_redis() -> str | None:
    """The host's redis-server binary (resolved), or None."""
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    return os.path.realpath(path) if path and os.access(path, os.X_OK) else None


@dataclass(frozen=True)
class DemoService:
    """One demo service: what it runs and what it shows."""

    name: str
    tier: str  # infrastructure | application
    script: str
    container_port: int
    port_offset: int
    shows: str
    environment: dict[str, str] = field(default_factory=dict)
    healthcheck: list[str] | None = None
    restart: str = "unless-stopped"
    depends_on: dict[str, str] = field(default_factory=dict)  # service -> condition
    mem_limit: str | None = None
    expect: str = "healthy"  # healthy | running | unhealthy | exited | restarting | oom
    start_period_s: int = 1  # healthcheck grace (the real postgres runs initdb on first start)

    def image(self, base: str = DEMO_IMAGE) -> str:
        """Infrastructure services get an alias tag named like the real image (tier detection)."""
        if self.tier == "infrastructure":
            return f"runbook-demo/{self.name}:{base.rsplit(':', 1)[-1]}"
        return base


def _hc(cmd: str) -> list[str]:
    return ["CMD-SHELL", cmd]


# What serves postgres and redis depends on the host (its binaries are copied into the image);
# decided here so the compose file and `demo status` say what `demo up` builds.
_HOST_PG = host_postgres() if shutil.which("ldd") else None
if _HOST_PG:
    _PG_SHOWS = (f"real PostgreSQL {_HOST_PG['version']} (host binaries, FROM scratch image): healthy, "
                 "SELECT 1 answers with the compose credentials; its password is masked everywhere")
    _PG_HEALTHCHECK = _hc('pg_isready -q -h 127.0.0.1 -p 5432 -U "${POSTGRES_USER}" || exit 1')
    _PG_START_PERIOD_S = 30
else:
    _PG_SHOWS = ("healthy by its healthcheck, but a TCP stand-in (no PostgreSQL on this host: apt-get "
                 "install postgresql for a real one): the postgres probe says down; password masked everywhere")
    _PG_HEALTHCHECK = _hc("echo | nc 127.0.0.1 5432 || exit 1")
    _PG_START_PERIOD_S = 1
_REDIS_SHOWS = ("healthy cache: real redis-server (host binary) with requirepass" if host_redis() and shutil.which("ldd") else
                "healthy cache: a RESP stand-in (AUTH, PING; no redis-server on this host) with a password")


SERVICES: tuple[DemoService, ...] = (
    DemoService("postgres", "infrastructure", _POSTGRES, 5432, 432,
                _PG_SHOWS,
                {"POSTGRES_USER": "vextrus", "POSTGRES_PASSWORD": DEMO_PG_PASSWORD, "POSTGRES_DB": "vextrus_erp"},
                _PG_HEALTHCHECK, start_period_s=_PG_START_PERIOD_S),
    DemoService("redis", "infrastructure", _REDIS, 6379, 379,
                _REDIS_SHOWS, {"REDIS_PASSWORD": DEMO_REDIS_PASSWORD},
                _hc("printf 'AUTH %s\\r\\nPING\\r\\nQUIT\\r\\n' \"${REDIS_PASSWORD}\" | nc 127.0.0.1 6379 | grep -q PONG || exit 1")),
    DemoService("kafka", "infrastructure", _KAFKA, 9092, 92,
                "running broker without a healthcheck that others depend on (lint finding); a Kafka "
                "wire-protocol responder (ApiVersions, Metadata) answers the kafka probe",
                {"KAFKA_BROKER_ID": "1", "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092"},
                None, expect="running"),
    DemoService("master-data", "application", _httpd_app(3002, "master-data", "MasterDataController"), 3002, 302,
                "healthy NestJS app with a Terminus /health",
                {"APP_PORT": "3002", "DATABASE_HOST": "postgres", "REDIS_HOST": "redis",
                 "KAFKA_BROKERS": "kafka:9092"},
                _hc("wget -q -O /dev/null http://127.0.0.1:3002/health || exit 1"),
                depends_on={"postgres": "service_healthy", "redis": "service_healthy", "kafka": "service_started"}),
    DemoService("auth", "application", _AUTH, 3001, 301,
                "exits 1: Cannot find module '@opentelemetry/api' (missing npm module)",
                {"APP_PORT": "3001", "DATABASE_HOST": "postgres",
                 "DATABASE_URL": f"postgres://vextrus:{DEMO_PG_PASSWORD}@postgres:5432/vextrus_auth",
                 "JWT_SECRET": DEMO_JWT_SECRET},
                _hc("wget -q -O /dev/null http://127.0.0.1:3001/health || exit 1"),
                restart="no", depends_on={"postgres": "service_healthy", "redis": "service_started"},
                expect="exited"),
    DemoService("workflow", "application", _WORKFLOW, 3011, 311,
                "TypeScript compile errors (TS2339, TS2322), exit 1, restart always: a crash loop",
                {"PORT": "3011", "DATABASE_HOST": "postgres", "KAFKA_BROKERS": "kafka:9092",
                 "TEMPORAL_ADDRESS": "temporal:7233"},
                None, restart="always", depends_on={"postgres": "service_started", "kafka": "service_started"},
                expect="restarting"),
    DemoService("api-gateway", "application", _GATEWAY, 4000, 400,
                "calls http://localhost:3001 instead of http://auth:3001: ECONNREFUSED, /health 503 (unhealthy)",
                {"APP_PORT": "4000", "AUTH_SERVICE_URL": "http://localhost:3001/graphql",
                 "MASTER_DATA_SERVICE_URL": "http://master-data:3002/graphql",
                 "WORKFLOW_SERVICE_URL": "http://workflow:3011/graphql"},
                _hc("wget -q -O /dev/null http://127.0.0.1:4000/health || exit 1"),
                depends_on={"auth": "service_started", "master-data": "service_started",
                            "workflow": "service_started", "rules-engine": "service_started"},
                expect="unhealthy"),
    DemoService("notification", "application", _NOTIFICATION, 3003, 303,
                "OOM-killed for real: 16 MB memory limit, exit 137",
                {"APP_PORT": "3003", "KAFKA_BROKERS": "kafka:9092"}, None, restart="no",
                depends_on={"kafka": "service_started"}, mem_limit="16m", expect="oom"),
    DemoService("rules-engine", "application", _httpd_app(3012, "rules-engine", "RulesController"), 3012, 312,
                "app is up but its healthcheck runs curl, missing in the image (unhealthy)",
                {"APP_PORT": "3012", "DATABASE_HOST": "postgres", "REDIS_HOST": "redis"},
                _hc("curl -fsS http://localhost:3012/health || exit 1"),
                depends_on={"postgres": "service_healthy"}, expect="unhealthy"),
)

HEALTHCHECK_TIMING = {"interval": "2s", "timeout": "2s", "retries": 2, "start_period": "1s"}
_NS = 1_000_000_000


def service(name: str) -> DemoService:
    """The demo service called ``name`` (KeyError names what exists)."""
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(f"no demo service {name!r}; known: {', '.join(s.name for s in SERVICES)}")


def host_port(svc: DemoService, port_base: int = DEFAULT_PORT_BASE) -> int:
    return port_base + svc.port_offset


# -- compose file --------------------------------------------------------------------
def data_dir() -> Path:
    """The user data folder for runbook (XDG_DATA_HOME/runbook)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "runbook"


def _compose_escape(text: str) -> str:
    return text.replace("$", "$$")


def compose_dict(port_base: int = DEFAULT_PORT_BASE, image: str = DEMO_IMAGE) -> dict[str, Any]:
    """The compose document describing the demo services (same specs demo_up creates)."""
    services: dict[str, Any] = {}
    for s in SERVICES:
        spec: dict[str, Any] = {
            "image": s.image(image),
            "command": ["/bin/sh", "-c", _compose_escape(s.script)],
            "environment": {k: _compose_escape(v) for k, v in s.environment.items()},
            "ports": [f"127.0.0.1:{host_port(s, port_base)}:{s.container_port}"],
            "restart": s.restart,
            "labels": {DEMO_LABEL_KEY: "1", "runbook.tier": s.tier},
        }
        if s.healthcheck:
            spec["healthcheck"] = {"test": [_compose_escape(t) for t in s.healthcheck], **HEALTHCHECK_TIMING,
                                   "start_period": f"{s.start_period_s}s"}
        if s.depends_on:
            spec["depends_on"] = {d: {"condition": c} for d, c in s.depends_on.items()}
        if s.mem_limit:
            spec["mem_limit"] = s.mem_limit
            spec["memswap_limit"] = s.mem_limit
        services[s.name] = spec
    return {"services": services}


def write_compose(path: Path, port_base: int = DEFAULT_PORT_BASE, image: str = DEMO_IMAGE) -> Path:
    """Write the demo compose file (YAML) to ``path``; returns the path."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("# The runbook demo stack, written by `runbook demo up`. Fake credentials on purpose.\n"
            + yaml.safe_dump(compose_dict(port_base, image), sort_keys=False, width=1000))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def compose_path(project: str = DEMO_PROJECT) -> Path:
    return data_dir() / "demo" / project / "docker-compose.yml"


# -- image ---------------------------------------------------------------------------
def _busybox_path() -> str:
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            return p
    raise DemoError("static busybox not found on this host. Fix: apt-get install busybox-static "
                    "(or busybox), then run `runbook demo up` again.")


def ensure_image(client, tag: str = DEMO_IMAGE, labels: dict[str, str] | None = None) -> str:
    """Build the FROM scratch busybox image unless it exists (no registry needed).

    ``labels`` defaults to the demo's own label; the tests build their image with none.
    """
    import docker.errors

    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(_busybox_path(), Path(d) / "busybox")
        (Path(d) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "RUN mkdir -p /tmp /www /var/log && chmod 1777 /tmp\n"
            + "".join(f'LABEL {k}="{v}"\n' for k, v in ({DEMO_LABEL_KEY: "1"} if labels is None else labels).items())
            + 'CMD ["/bin/sh"]\n')
        try:
            client.images.build(path=d, tag=tag, rm=True, forcerm=True)
        except docker.errors.BuildError as exc:
            raise DemoError(f"building {tag} failed: {exc}. Fix: check that /bin/busybox is the static "
                            "build (busybox-static).") from exc
    return tag


RECIPE_LABEL = "runbook.demo.recipe"
SERVER_LABEL = "runbook.demo.server"
_PASSWD = "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh\n"
_GROUP = "root:x:0:\npostgres:x:999:\n"


@dataclass(frozen=True)
class ServerRecipe:
    """A real server copied from the host into an image FROM the demo busybox image."""

    server: str  # what it is, e.g. "PostgreSQL 15" (label runbook.demo.server)
    files: tuple[tuple[str, str], ...]  # (path in the image, host path)
    texts: tuple[tuple[str, str], ...] = ()  # (path in the image, content)
    links: tuple[tuple[str, str], ...] = ()  # (link path, target)
    run: str = ""  # shell run once at build time

    def digest(self, base_id: str) -> str:
        """A hash of the recipe and of the host files it copies (size, mtime): a change rebuilds."""
        h = hashlib.sha256(f"{base_id}\n{self.server}\n{self.run}\n".encode())
        for dest, src in self.files:
            st = os.stat(src)
            h.update(f"{dest}\0{src}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        for dest, text in self.texts:
            h.update(f"{dest}\0{text}\n".encode())
        for link, target in self.links:
            h.update(f"{link}\0{target}\n".encode())
        return h.hexdigest()[:16]


def _ldd(binaries: list[str]) -> list[str]:
    """The shared libraries the binaries load (``ldd``), the loader included."""
    out: set[str] = set()
    for b in binaries:
        res = subprocess.run(["ldd", b], capture_output=True, text=True, timeout=30, check=False)
        for line in res.stdout.splitlines():
            line = line.strip()
            if "=>" in line:
                path = line.split("=>", 1)[1].split("(")[0].strip()
            else:
                path = line.split("(")[0].strip()
            if path.startswith("/") and os.path.exists(path):
                out.add(path)
    return sorted(out)


def _postgres_recipe() -> ServerRecipe | None:
    pg = host_postgres()
    if pg is None or not shutil.which("ldd"):
        return None
    bins = [f"{pg['bindir']}/{b}" for b in ("postgres", "initdb", "pg_isready")
            if os.access(f"{pg['bindir']}/{b}", os.X_OK)]
    files = [(b, b) for b in bins] + [(lib, lib) for lib in _ldd(bins)]
    for mod in ("plpgsql.so", "dict_snowball.so"):  # initdb loads these
        if os.path.exists(f"{pg['lib']}/{mod}"):
            files.append((f"{pg['lib']}/{mod}", f"{pg['lib']}/{mod}"))
    for root, dirs, names in os.walk(pg["share"]):
        dirs[:] = [x for x in dirs if x != "man"]
        files += [(os.path.join(root, n), os.path.realpath(os.path.join(root, n))) for n in names]
    for tz in ("Etc/UTC", "UTC", "GMT", "Etc/GMT"):
        src = f"/usr/share/zoneinfo/{tz}"
        if os.path.exists(src):
            files.append((src, os.path.realpath(src)))
    links = (("/usr/local/bin/pg_isready", f"{pg['bindir']}/pg_isready"),) if f"{pg['bindir']}/pg_isready" in bins else ()
    return ServerRecipe(server=f"PostgreSQL {pg['version']}", files=tuple(files),
                        texts=(("/etc/passwd", _PASSWD), ("/etc/group", _GROUP)), links=links,
                        run=f"mkdir -p {PG_DATA} && chown -R 999:999 /var/lib/postgresql && chmod 700 {PG_DATA}")


def _redis_recipe() -> ServerRecipe | None:
    binary = host_redis()
    if binary is None or not shutil.which("ldd"):
        return None
    files = [("/usr/bin/redis-server", binary)] + [(lib, lib) for lib in _ldd([binary])]
    try:  # Redis server v=7.0.15 sha=...
        out = subprocess.run([shutil.which("redis-server") or binary, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
        version = next((w[2:] for w in out.split() if w.startswith("v=")), "")
    except (OSError, subprocess.SubprocessError):
        version = ""
    return ServerRecipe(server=f"Redis {version}".strip(), files=tuple(files))


_RECIPES = {"postgres": _postgres_recipe, "redis": _redis_recipe}


def _build_server_image(client, tag: str, base: str, recipe: ServerRecipe, digest: str) -> None:
    import docker.errors

    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "rootfs"
        for dest, src in recipe.files:
            target = root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)  # follows symlinks: the library itself under the name ldd printed
        for dest, text in recipe.texts:
            target = root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        for link, target_path in recipe.links:
            p = root / link.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target_path, p)
        run = f"RUN {recipe.run}\n" if recipe.run else ""
        (Path(d) / "Dockerfile").write_text(
            f"FROM {base}\nCOPY rootfs/ /\n{run}"
            f'LABEL {DEMO_LABEL_KEY}="1" {RECIPE_LABEL}="{digest}" {SERVER_LABEL}="{recipe.server}"\n'
            'CMD ["/bin/sh"]\n')
        try:
            client.images.build(path=d, tag=tag, rm=True, forcerm=True, pull=False)
        except docker.errors.BuildError as exc:
            raise DemoError(f"building {tag} ({recipe.server} from the host) failed: {exc}") from exc


def ensure_images(client, base: str = DEMO_IMAGE) -> dict[str, str]:
    """The base image, plus per infrastructure service either an image holding the host's real
    server (postgres, redis; rebuilt when the recipe or the host files change) or an alias tag
    of the base image. Returns service → what serves it ("PostgreSQL 15", "stand-in")."""
    import docker.errors

    ensure_image(client, base)
    img = client.images.get(base)
    out: dict[str, str] = {}
    for s in SERVICES:
        alias = s.image(base)
        if alias == base:
            continue
        try:
            current = client.images.get(alias)
        except docker.errors.ImageNotFound:
            current = None
        recipe = _RECIPES[s.name]() if s.name in _RECIPES else None
        if recipe is None:
            if current is None or current.id != img.id:
                repo, tag = alias.rsplit(":", 1)
                img.tag(repo, tag)
            out[s.name] = "stand-in"
            continue
        digest = recipe.digest(img.id)
        labels = (current.labels or {}) if current is not None else {}
        if labels.get(RECIPE_LABEL) != digest:
            _build_server_image(client, alias, base, recipe, digest)
            if current is not None and labels.get(RECIPE_LABEL) and current.id != img.id:
                try:  # the superseded demo image, unless a container still uses it (never forced)
                    client.images.remove(current.id, noprune=False)
                except docker.errors.APIError:
                    pass
        out[s.name] = recipe.server
    return out


# -- up / down / status --------------------------------------------------------------
def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _project_filter(project: str) -> dict[str, list[str]]:
    return {"label": [f"{PROJECT_LABEL}={project}", DEMO_LABEL]}


def _existing(client, project: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for c in client.api.containers(all=True, filters=_project_filter(project)):
        svc = (c.get("Labels") or {}).get(SERVICE_LABEL)
        if svc:
            out[svc] = c
    return out


def _ensure_network(client, project: str, extra_labels: dict[str, str]) -> str:
    name = f"{project}_default"
    nets = client.api.networks(names=[name])
    if any(n.get("Name") == name for n in nets):
        return name
    client.api.create_network(name, driver="bridge", labels={
        PROJECT_LABEL: project, NETWORK_LABEL: "default", DEMO_LABEL_KEY: "1", **extra_labels})
    return name


def _create(client, s: DemoService, project: str, network: str, port_base: int, cfg_path: Path,
            image: str, extra_labels: dict[str, str]) -> str:
    api = client.api
    labels = {
        PROJECT_LABEL: project, SERVICE_LABEL: s.name, CONFIG_FILES_LABEL: str(cfg_path),
        WORKDIR_LABEL: str(cfg_path.parent), ONEOFF_LABEL: "False",
        "com.docker.compose.container-number": "1", DEMO_LABEL_KEY: "1", "runbook.tier": s.tier,
        "com.docker.compose.version": COMPOSE_VERSION,  # docker-compose 1.29 reads it when it recreates
        **extra_labels,
    }
    restart = None if s.restart == "no" else {"Name": s.restart, "MaximumRetryCount": 0}
    hp = host_port(s, port_base)
    host_config = api.create_host_config(
        port_bindings={s.container_port: ("127.0.0.1", hp)},
        restart_policy=restart, network_mode=network,
        mem_limit=s.mem_limit, memswap_limit=s.mem_limit,
    )
    healthcheck = None
    if s.healthcheck:
        healthcheck = {"test": list(s.healthcheck), "interval": 2 * _NS, "timeout": 2 * _NS,
                       "retries": 2, "start_period": s.start_period_s * _NS}
    networking = api.create_networking_config({network: api.create_endpoint_config(aliases=[s.name])})
    created = api.create_container(
        s.image(image), command=["/bin/sh", "-c", s.script], name=f"{project}-{s.name}-1", hostname=s.name,
        environment=dict(s.environment), labels=labels, ports=[s.container_port],
        host_config=host_config, healthcheck=healthcheck, networking_config=networking, detach=True)
    api.start(created["Id"])
    return created["Id"]


def _settled(inv: pd.DataFrame) -> bool:
    by = {r["service"]: r for _, r in inv.iterrows()}
    for s in SERVICES:
        r = by.get(s.name)
        if r is None:
            return False
        if s.expect in ("healthy", "unhealthy") and r["health"] == "starting":
            return False
        if s.expect == "unhealthy" and r["health"] != "unhealthy":
            return False
        if s.expect in ("exited", "oom") and r["state"] != "exited":
            return False
        if s.expect == "restarting" and int(r["restart_count"] or 0) < 1:
            return False
    return True


def demo_up(client, project: str = DEMO_PROJECT, port_base: int = DEFAULT_PORT_BASE,
            settle_s: float = 30.0, compose_file: Path | None = None,
            extra_labels: dict[str, str] | None = None, image: str = DEMO_IMAGE) -> pd.DataFrame:
    """Create what is missing of the demo project, wait until states settle, return its inventory."""
    extra = dict(extra_labels or {})
    existing = _existing(client, project)
    missing = [s for s in SERVICES if s.name not in existing]
    busy = [f"127.0.0.1:{host_port(s, port_base)} ({s.name})" for s in missing
            if not _port_free(host_port(s, port_base))]
    if busy:
        raise DemoError(f"ports already in use: {', '.join(busy)}. Fix: stop what listens there, or "
                        f"choose another range (port_base, default {DEFAULT_PORT_BASE}).")
    cfg_path = Path(compose_file) if compose_file else compose_path(project)
    write_compose(cfg_path, port_base, image)
    redact.learn_env({"POSTGRES_PASSWORD": DEMO_PG_PASSWORD, "REDIS_PASSWORD": DEMO_REDIS_PASSWORD,
                      "JWT_SECRET": DEMO_JWT_SECRET})
    servers: dict[str, str] = {}
    if missing:
        servers = ensure_images(client, image)
        network = _ensure_network(client, project, extra)
        for s in missing:
            _create(client, s, project, network, port_base, cfg_path, image, extra)
    deadline = time.monotonic() + settle_s
    while True:
        inv = gather_inventory(client, project=project)
        if _settled(inv) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    inv.attrs["created"] = [s.name for s in missing]
    inv.attrs["compose_file"] = str(cfg_path)
    inv.attrs["servers"] = servers
    return inv


def demo_down(client, project: str = DEMO_PROJECT) -> dict[str, int]:
    """Remove the demo project's containers and network (only those labelled runbook.demo=1)."""
    import docker.errors

    removed = 0
    for c in client.api.containers(all=True, filters=_project_filter(project)):
        try:
            client.api.remove_container(c["Id"], force=True, v=False)
            removed += 1
        except docker.errors.NotFound:
            pass
    nets = 0
    for n in client.api.networks(filters=_project_filter(project)):
        try:
            client.api.remove_network(n["Id"])
            nets += 1
        except docker.errors.NotFound:
            pass
    return {"containers": removed, "networks": nets}


def demo_status(client, project: str = DEMO_PROJECT) -> pd.DataFrame:
    """The demo project's containers: service, tier, state, health, exit code, ports, what it shows."""
    inv = gather_inventory(client, project=project, label=DEMO_LABEL)
    shows = {s.name: s.shows for s in SERVICES}
    tiers = {s.name: s.tier for s in SERVICES}
    cols = ["service", "tier", "state", "health", "exit_code", "oom_killed", "restart_count", "ports", "shows"]
    if inv.empty:
        return pd.DataFrame(columns=cols)
    out = inv.assign(tier=inv["service"].map(tiers), shows=inv["service"].map(shows),
                     exit_code=pd.to_numeric(inv["exit_code"], errors="coerce").astype("Int64"))
    return out[cols].reset_index(drop=True)
