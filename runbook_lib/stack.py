"""One gathered stack: what a command or notebook gathered once, for every analysis to read.

``gather()`` connects to the engine (or records why it could not), lists the containers
once, finds the compose files from the containers' own labels (``config_files`` joined to
``working_dir``) unless they are given, loads the catalog and reads the runbook config.
Analyses take the frames and the ``Stack``; they never connect on their own.

Gathering imports no pandas (nor the docker SDK on unix:// and plain tcp:// engines): the
containers are ``rows`` (masked dicts, ``engine.inventory_rows.COLUMNS`` keys) and the catalog
is records with its frame built on first read. ``inventory`` (the DataFrame) is built from
``rows`` the first time it is read; those two frames are the only places this module reaches
pandas, through a deferred import (the documented exception of docs/DESIGN.md).

A part that cannot be gathered is a note and a degraded reason, never an exception:
``require_engine()`` and ``require_catalog()`` raise the saved error for the commands
that cannot go on without it (``runbook catalog``, ``lint``, ``plan``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from runbook_lib import redact
from runbook_lib.compose.discover import compose_projects, find_compose_files
from runbook_lib.compose.records import CatalogRecords, load_records
from runbook_lib.config import RunbookConfig, load_config
from runbook_lib.engine.connection import DEFAULT_TIMEOUT_S, engine_target, try_connect
from runbook_lib.engine.inventory_rows import gather_rows
from runbook_lib.exceptions import ComposeError, EngineError, RunbookError


def _inventory_frame(rows: list[dict], notes: list[str], gathered_at: datetime | None) -> Any:
    """The inventory DataFrame of rows (engine.inventory.inventory_frame)."""
    # deferred: the one place the gathered Stack reaches pandas (docs/DESIGN.md, lazy imports)
    from runbook_lib.engine.inventory import inventory_frame  # noqa: PLC0415
    return inventory_frame(rows, notes, gathered_at)


def _catalog_frame(records: CatalogRecords) -> Any:
    """The catalog DataFrame of records (compose.catalog.Catalog.frame)."""
    # deferred: the catalog's frame needs pandas; gathering it does not (docs/DESIGN.md, lazy imports)
    from runbook_lib.compose.catalog import Catalog  # noqa: PLC0415
    return Catalog.of(records).frame


@dataclass(frozen=True)
class StackCatalog(CatalogRecords):
    """A gathered catalog: records, with ``frame`` (as ``compose.catalog.Catalog``'s) built on first read."""

    @cached_property
    def frame(self) -> Any:
        """One masked row per service (compose.records.COLUMNS), a DataFrame built from ``rows``."""
        return _catalog_frame(self)


def _load_catalog(files: list[str], **kwargs: Any) -> StackCatalog:
    records = load_records(files, **kwargs)
    return StackCatalog(**{k: getattr(records, k) for k in records.__dataclass_fields__})


class _Inventory:
    """``Stack.inventory``: the frame of ``rows``, built on first read; assigning a frame replaces both."""

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return None  # the dataclass default: the frame of the rows
        if obj.__dict__.get("_frame") is None:
            obj.__dict__["_frame"] = _inventory_frame(obj.__dict__.get("_rows") or [], obj.inventory_notes,
                                                      obj.gathered_at)
        return obj.__dict__["_frame"]

    def __set__(self, obj: Any, frame: Any) -> None:
        if frame is None:  # "from the rows"
            obj.__dict__["_frame"] = None
            return
        obj.__dict__.update(_frame=frame, _rows=None)
        obj.__dict__["inventory_notes"] = list(getattr(frame, "attrs", {}).get("notes", []))


class _Rows:
    """``Stack.rows``: one masked dict per container (no pandas); those of an assigned frame (NaN for
    missing values) when a frame was assigned."""

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return None  # the dataclass default: no rows
        if obj.__dict__.get("_rows") is None:
            frame = obj.__dict__.get("_frame")
            obj.__dict__["_rows"] = frame.to_dict("records") if frame is not None else []
        return obj.__dict__["_rows"]

    def __set__(self, obj: Any, rows: list[dict] | None) -> None:
        if rows is None:
            obj.__dict__.setdefault("_rows", None)
            return
        obj.__dict__.update(_rows=list(rows), _frame=None)


@dataclass
class Stack:
    """Everything one command gathered: the engine, the containers, the compose model, the config.

    ``rows``: the containers, one masked dict each; ``inventory``: the same as a DataFrame,
    built from ``rows`` on first read (``None`` at construction; assigning a frame replaces
    both); ``gathered_at``: a tz-aware UTC datetime; ``catalog``: a ``StackCatalog`` (records,
    ``frame`` on first read).
    """

    client: Any | None
    engine_error: EngineError | None
    rows: list[dict] = _Rows()  # type: ignore[assignment] - before inventory: a frame given wins
    inventory: Any = _Inventory()
    config: RunbookConfig = None  # type: ignore[assignment] - always given (a required field before)
    project: str | None = None
    compose_files: list[str] = field(default_factory=list)
    catalog: CatalogRecords | None = None
    catalogs: dict[str, CatalogRecords] = field(default_factory=dict)
    compose_error: RunbookError | None = None
    ambiguous: bool = False  # several projects ran and none was chosen
    notes: list[str] = field(default_factory=list)
    degraded_reasons: list[str] = field(default_factory=list)
    gathered_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    inventory_notes: list[str] = field(default_factory=list)  # the inventory's own (containers gone mid-listing)

    def __repr__(self) -> str:
        return (f"Stack(project={self.project!r}, engine_ok={self.engine_ok}, containers={len(self.rows)}, "
                f"compose_files={self.compose_files!r}, degraded={self.degraded_reasons!r})")

    @property
    def engine_ok(self) -> bool:
        """True when the engine answered and the inventory was read."""
        return self.client is not None

    @property
    def engine_url(self) -> str | None:
        return engine_target(self.client).url if self.client is not None else None

    def project_rows(self, project: str | None = None) -> list[dict]:
        """The rows of one compose project's containers (the stack's own by default)."""
        project = project if project is not None else self.project
        return self.rows if project is None else [r for r in self.rows if r.get("project") == project]

    def project_inventory(self, project: str | None = None) -> Any:
        """The containers of one compose project (the stack's own by default)."""
        project = project if project is not None else self.project
        inv = self.inventory
        if project is None or inv.empty or "project" not in inv.columns:
            return inv
        out = inv[inv["project"] == project].reset_index(drop=True)
        out.attrs = dict(inv.attrs)
        return out

    def require_engine(self) -> Any:
        """The docker client, or the saved engine error (for commands that must act)."""
        if self.client is None:
            raise self.engine_error or EngineError("the Docker engine was not contacted")
        return self.client

    def require_catalog(self) -> CatalogRecords:
        """The catalog, or the saved reason it could not be loaded (names the fix).

        With several projects and none chosen, the reports analyse the first one; a command
        that acts on one (catalog, lint, plan) asks which instead.
        """
        if self.catalog is not None and not self.ambiguous:
            return self.catalog
        if self.compose_error is not None:
            raise self.compose_error
        if self.engine_error is not None:
            raise ComposeError(f"cannot find the compose files: {self.engine_error}",
                               fix="pass --compose FILE (repeat for overrides).")
        raise ComposeError("no compose files.", fix="pass --compose FILE (repeat for overrides).")

    def refresh_inventory(self) -> Any:
        """Read the containers again (after actions); the rest of the stack stays as gathered."""
        if self.client is None:
            return self.inventory
        self.rows, self.inventory_notes, _ = gather_rows(self.client, project=self.project)
        return self.inventory

    def note(self, text: str, degraded: str | None = None) -> None:
        """Add a (masked) note, and a degraded reason when ``degraded`` names the part lost."""
        text = redact.mask_text(str(text))
        if text not in self.notes:
            self.notes.append(text)
        if degraded and degraded not in self.degraded_reasons:
            self.degraded_reasons.append(degraded)


def _config(config: RunbookConfig | str | Path | None) -> RunbookConfig:
    return config if isinstance(config, RunbookConfig) else load_config(config)


_projects_with_files = compose_projects


def gather(engine_url: str | None = None, *, project: str | None = None,
           compose_files: Iterable[str | Path] = (), config: RunbookConfig | str | Path | None = None,
           profiles: Iterable[str] | None = None, engine_timeout_s: float = DEFAULT_TIMEOUT_S,
           include_stopped: bool = True, all_projects: bool = False, client: Any = None,
           use_engine: bool = True, load_compose: bool = True) -> Stack:
    """Gather a stack once: engine, containers, compose files (from labels), catalog, config.

    ``project`` narrows the containers to one compose project. Without it and without
    ``compose_files``, the catalog is that of the only project with compose labels, or of
    the first one (with a note) when several run; ``all_projects`` also loads every other
    project's catalog into ``catalogs`` (reports that cover the whole engine).
    ``use_engine=False`` reads only the given compose files (``runbook catalog -f FILE``).
    """
    cfg = _config(config)
    stack = Stack(client=None, engine_error=None, inventory=None, config=cfg, project=project)
    if client is None and use_engine:
        client, err = try_connect(engine_url, engine_timeout_s)
        stack.engine_error = err
    if client is not None:
        try:
            rows, inventory_notes, _ = gather_rows(client, project=project, include_stopped=include_stopped)
            stack.rows, stack.inventory_notes = rows, inventory_notes
            stack.client = client
            stack.notes.extend(inventory_notes)
        except EngineError as exc:  # the engine died between the ping and the listing
            stack.engine_error = exc
    if stack.client is None and use_engine:
        stack.note(f"engine unavailable: {stack.engine_error}", degraded="engine")
    if not load_compose:
        return stack

    files = [str(f) for f in compose_files]
    wanted = project
    if not files and stack.client is not None:
        known = _projects_with_files(stack.rows)
        if wanted is None and len(known) > 1:
            wanted = known[0]
            stack.ambiguous = True
            stack.compose_error = ComposeError(f"several compose projects run here ({', '.join(known)}).",
                                               fix="choose one with --project NAME (or pass --compose FILE).")
            stack.note(f"several compose projects run here ({', '.join(known)}); analysing {wanted} "
                       f"(choose one with project)")
        try:
            files, wanted = find_compose_files(stack.rows, wanted)
        except ComposeError as exc:
            stack.compose_error = exc
            stack.note(f"compose files not found: {exc}")
            files = []
    if files:
        try:
            stack.catalog = _load_catalog(files, project_name=wanted, profiles=profiles, config=cfg)
            stack.compose_files = list(stack.catalog.files)
            stack.project = stack.project or stack.catalog.project
            stack.catalogs[stack.catalog.project] = stack.catalog
            stack.notes.extend(n for n in stack.catalog.notes if n not in stack.notes)
        except RunbookError as exc:  # a broken compose file still leaves the engine view
            stack.compose_error = exc
            stack.compose_files = files
            stack.note(f"compose files not read: {exc}", degraded="compose")
    if all_projects and stack.client is not None and not compose_files:
        for other in _projects_with_files(stack.rows):
            if other in stack.catalogs:
                continue
            try:
                other_files, _ = find_compose_files(stack.rows, other)
                stack.catalogs[other] = _load_catalog(other_files, project_name=other, profiles=profiles, config=cfg)
            except RunbookError as exc:
                stack.note(f"project {other}: compose files not read: {exc}")
    return stack
