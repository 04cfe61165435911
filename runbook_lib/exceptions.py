"""Every error runbook raises on purpose, under one root.

Each message says what happened and what to do next. Probe outcomes are never
exceptions: they are rows (see probes.py).
"""
from __future__ import annotations


class RunbookError(Exception):
    """Root of all runbook errors; the message is meant for the on-call engineer."""

    exit_code = 2


class EngineError(RunbookError):
    """The Docker engine could not be used."""

    cause = "engine-error"


class EngineNotRunning(EngineError):
    """No daemon answers: socket missing or connection refused."""

    cause = "not-running"


class EnginePermissionDenied(EngineError):
    """The socket exists but this user may not open it."""

    cause = "permission-denied"


class EngineTimeout(EngineError):
    """The daemon accepted the connection but did not answer in time."""

    cause = "timeout"


class EngineAPIError(EngineError):
    """The engine refused one call (an HTTP error answer), e.g. 'container ... is not paused'.

    Raised by the keep-alive transport's calls, where docker-py would raise its ``APIError``
    (``engine.dockerpy.api_errors()`` catches both)."""

    cause = "api-error"

    def __init__(self, message: str, explanation: str | None = None, status: int | None = None):
        super().__init__(message)
        self.explanation, self.status = explanation, status

    def __str__(self) -> str:
        text = super().__str__()
        return f'{text} ("{self.explanation}")' if self.explanation else text


class EngineNotFound(EngineAPIError):
    """The engine has no such object (HTTP 404): a container removed meanwhile, a wrong name."""

    cause = "not-found"


class ComposeError(RunbookError):
    """A compose file cannot be read; names file, service and fix."""

    def __init__(self, message: str, *, file: str | None = None, service: str | None = None,
                 fix: str | None = None):
        self.file, self.service, self.fix = file, service, fix
        parts = []
        if file:
            parts.append(f"{file}")
        if service:
            parts.append(f"service '{service}'")
        prefix = ": ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class ConfigError(RunbookError):
    """The runbook config file is invalid."""


class ParameterError(RunbookError):
    """A report parameter is unknown or has the wrong type."""


class ReportError(RunbookError):
    """A report could not be produced at all."""


class NotebookFailed(ReportError):
    """A notebook cell failed; the HTML with the error banner was still written."""

    exit_code = 1


class StoreError(RunbookError):
    """The history store cannot be used safely."""


class StoreCorrupt(StoreError):
    """The history store file is damaged or is not a store: reports using it are degraded."""


class ActionRefused(RunbookError):
    """An action was refused by the guard rails (destructive, or no dry-run path)."""


class ActionFailed(RunbookError):
    """An applied plan stopped at a service that did not come up."""

    exit_code = 1
