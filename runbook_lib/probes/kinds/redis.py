"""redis probe kind: Redis PING with the password from ``--requirepass`` / REDIS_PASSWORD."""
from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from runbook_lib.probes.kinds.base import ProbeKind
from runbook_lib.probes.spec import ProbeDown, ProbeOutcome, ProbeSpec, ProbeUnknown


def _credentials(spec: ProbeSpec, *names: str) -> tuple:
    return tuple(spec.options.get(n) for n in names)


class Redis(ProbeKind):
    """The redis probe kind."""

    name = "redis"
    libraries = ('redis',)

    def check(self, spec: ProbeSpec) -> ProbeOutcome:
        """Redis PING with the password from ``--requirepass`` / REDIS_PASSWORD."""
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
