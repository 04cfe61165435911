"""The report's kernel, started early and owned by the runner (light: jupyter_client only).

A kernel takes ~2 s to start (its own process imports IPython and ipykernel). ``runbook
report`` starts it first (``started_kernel``), then imports papermill, nbconvert, pandas and
plotly and validates the parameters while the kernel boots in its own process; papermill gets
the running kernel through nbclient's ``km``. The kernel talks over unix sockets in a private
temporary folder that is removed at the end, also on SIGTERM (``terminate_as_exit``).
Given the notebook, the kernel also runs the notebook's own import statements while it
starts (``preload_code``), so pandas, plotly and the report's modules load while the parent
imports papermill and nbconvert instead of in the notebook's first cell. The notebook is
unchanged (its cells import as before, from the module cache) and the imports' names stay out
of its namespace.
"""
from __future__ import annotations

import ast
import inspect
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from traitlets import default

from runbook_lib.exceptions import ReportError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # runbook_lib/
PARAMS_ENV = "RUNBOOK_REPORT_PARAMS"  # the -p values for the kernel's prefetch (reports.prefetch reads it)
EXIT_GRACE_S = 0.1  # after the run and the HTML export, how long the kernel gets to exit on its own


# -- notebooks ----------------------------------------------------------------
def notebooks_dir() -> Path:
    """Where the report notebooks are: ``RUNBOOK_NOTEBOOKS``, else inside the installed package
    (the wheel maps ``notebooks/`` to ``runbook_lib/notebooks``), else beside the source tree."""
    env = os.environ.get("RUNBOOK_NOTEBOOKS")
    if env:
        return Path(env)
    installed = PACKAGE_ROOT / "notebooks"
    return installed if installed.is_dir() else PACKAGE_ROOT.parent / "notebooks"


def notebook_path(name: str) -> Path:
    """The notebook for a report name (or a path to one)."""
    p = Path(name)
    if p.suffix == ".ipynb" and p.exists():
        return p.resolve()
    folder = notebooks_dir()
    cand = folder / f"{name}.ipynb"
    if cand.exists():
        return cand
    known = sorted(q.stem for q in folder.glob("*.ipynb"))
    raise ReportError(f"No report named '{name}'. Known reports: {', '.join(known) or '(none)'} "
                      f"(notebooks in {folder}).")


# plotly's one-time loads, done by the first figure otherwise (~0.2-0.4 s in a report's cells):
# its renderers module (with nbformat) and its table of property validators.
PLOTLY_WARMUP = ("import sys\nif 'plotly.graph_objects' in sys.modules:\n    import plotly.graph_objects as go\n"
                 "    import plotly.io as pio\n    pio.renderers\n    go.Figure(go.Bar(x=[1], y=[1]))")


def preload_code(nb_file: str | Path, prefetch: bool = False) -> str | None:
    """One line of Python for the kernel's ``exec_lines``: the notebook's top-level import
    statements (parameters cell excepted), each run in a throw-away namespace, then plotly's
    one-time loads if they imported plotly; an import that fails is left for its cell to report. None when the notebook imports nothing or is unreadable.
    ``prefetch``: first of all, ``reports.prefetch.start`` (the reads the notebook will wait for,
    given the ``-p`` values the runner put in the kernel's environment)."""
    try:
        cells = json.loads(Path(nb_file).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    statements: list[str] = []
    for cell in cells:
        if cell.get("cell_type") != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        try:
            tree = ast.parse("".join(source) if isinstance(source, list) else source)
        except SyntaxError:  # e.g. IPython magics: that cell imports nothing ahead
            continue
        statements += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    if not statements:
        return None
    early = [f"from runbook_lib.reports import prefetch\nprefetch.start({str(nb_file)!r})"] if prefetch else []
    body = "".join(f"try:\n    exec({s!r}, {{}})\nexcept Exception:\n    pass\n"
                   for s in [*early, *dict.fromkeys(statements), PLOTLY_WARMUP])
    return f"exec(compile({body!r}, '<runbook preload>', 'exec'), {{}})"


@dataclass
class StartedKernel:
    """A running kernel and what it was started with (the runner only uses a matching one)."""
    km: AsyncKernelManager
    ipc_dir: Path
    cwd: Path
    output_dir: Path
    kernel_name: str
    used: bool = field(default=False)
    stop_requested: bool = field(default=False)
    stopped: bool = field(default=False)

    def matches(self, cwd: Path, output_dir: Path, kernel_name: str) -> bool:
        return (not self.used and self.cwd == cwd.resolve() and self.output_dir == output_dir.resolve()
                and self.kernel_name == kernel_name)

    def request_stop(self) -> None:
        """Ask a kernel that ran the notebook to exit; it does so (~1 s) while the parent exports
        the HTML, and ``stop`` waits for it and cleans up. A kernel that does not take the request
        is shut down by ``stop``."""
        if self.used and not (self.stop_requested or self.stopped):
            try:
                run_sync(self.km.request_shutdown)()
                self.stop_requested = True
            except Exception:  # noqa: BLE001 - e.g. already dead: stop() handles it
                pass

    def stop(self) -> None:
        """Shut the kernel down (gracefully after a run, at once if it never ran anything); idempotent."""
        if not self.stopped:
            self.stopped = True
            run_sync(_stop)(self.km, now=not self.used, requested=self.stop_requested)


def resolve_output_dir(output_dir: str | Path | None) -> Path:
    """The reports folder as the runner resolves it: the argument, ``RUNBOOK_OUTPUT_DIR``, ``./outputs``."""
    return Path(output_dir or os.environ.get("RUNBOOK_OUTPUT_DIR") or "outputs").resolve()


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's async client, but ready as soon as the kernel is: its ``wait_for_ready``
    waits for the kernel_info reply and one IOPub message (IOPub connected) as jupyter_client's
    does, then takes what IOPub already holds instead of waiting 0.2 s for the channel to go quiet
    (on the report's path; nbclient matches every output to its request, so a late status
    message of the kernel_info request is ignored as it would be anyway)."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                pass
            else:
                if msg["msg_type"] == "kernel_info_reply":
                    try:
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                break


def kernel_manager_class(ipc_dir: Path) -> type[AsyncKernelManager]:
    """On POSIX the kernel talks over unix sockets (IPC), not TCP on 127.0.0.1: no open ports,
    and no "running over TCP without encryption" warning in every report run. The sockets and
    the connection file live in ``ipc_dir`` (private to this run), never in the working folder.
    The manager remembers its clients so that the runner can close them (it owns the kernel)."""

    class RunbookKernelManager(AsyncKernelManager):
        @default("client_factory")
        def _default_client_factory(self) -> type[AsyncKernelClient]:
            return ReadyKernelClient

        def client(self, **kwargs: Any):
            kc = super().client(**kwargs)
            self.__dict__.setdefault("_runbook_clients", []).append(kc)
            return kc

        @default("connection_file")
        def _default_connection_file(self) -> str:
            return str(ipc_dir / "kernel.json")

    if os.name != "posix":
        return RunbookKernelManager

    class IPCKernelManager(RunbookKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return str(ipc_dir / "kernel-ipc")
    return IPCKernelManager


@contextmanager
def started_kernel(cwd: str | Path | None = None, output_dir: str | Path | None = None,
                   kernel_name: str = "python3", notebook: str | Path | None = None,
                   parameters: dict[str, str] | None = None) -> Iterator[StartedKernel]:
    """Start a kernel now (it boots while the caller imports and validates); shut it down and
    remove its private folder on the way out. The kernel inherits ``RUNBOOK_OUTPUT_DIR``.
    ``notebook`` (a report name or path): the kernel runs its imports while it starts.
    ``parameters`` (the ``-p`` values as given, text): the kernel also starts what the notebook
    will wait for with them (``reports.prefetch``; only in the kernel's environment, never argv)."""
    run_dir, out_dir = Path(cwd or Path.cwd()).resolve(), resolve_output_dir(output_dir)
    with terminate_as_exit(), tempfile.TemporaryDirectory(prefix="runbook-kernel-") as ipc:
        km = kernel_manager_class(Path(ipc))(kernel_name=kernel_name)
        env = {**os.environ, "RUNBOOK_OUTPUT_DIR": str(out_dir)}
        if parameters is not None and notebook is not None:
            env[PARAMS_ENV] = json.dumps(parameters)
        started = StartedKernel(km, Path(ipc), run_dir, out_dir, kernel_name)
        try:
            # As nbclient starts it: no history database for a throw-away kernel.
            args = ["--HistoryManager.hist_file=:memory:"]
            preload = _preload_for(notebook, parameters is not None)
            if preload:
                args.append(f"--IPKernelApp.exec_lines={preload}")
            try:
                run_sync(km.start_kernel)(cwd=str(run_dir), env=env, extra_arguments=args)
            except Exception as exc:  # noqa: BLE001 - no such kernel, no python …
                raise ReportError(f"Could not start the '{kernel_name}' Jupyter kernel: {exc}. Is it installed "
                                  f"in this environment? (scripts/bootstrap.sh installs it)") from None
            yield started
        finally:
            started.stop()


def _preload_for(notebook: str | Path | None, prefetch: bool = False) -> str | None:
    if notebook is None:
        return None
    try:
        return preload_code(notebook_path(str(notebook)), prefetch)
    except ReportError:  # no such report: the runner says so
        return None


async def _stop(km: AsyncKernelManager, now: bool, requested: bool = False) -> None:
    """Shut the kernel down as nbclient does (gracefully after a run, at once if never used);
    after ``request_stop`` only wait briefly for it to exit, then end it (SIGTERM, SIGKILL):
    tearing down a kernel that holds pandas and plotly took 0.2-1.3 s, on the report's path."""
    try:
        if requested:  # the notebook is done and its outputs are in: no need to wait for a tidy exit
            await km.finish_shutdown(waittime=EXIT_GRACE_S, pollinterval=0.05)
        elif km.has_kernel and await km.is_alive():
            await km.shutdown_kernel(now=now)
    except RuntimeError as exc:
        if "No kernel is running!" not in str(exc):
            raise
    finally:
        await km.cleanup_resources()
        for kc in km.__dict__.pop("_runbook_clients", []):
            stopped = kc.stop_channels()
            if inspect.isawaitable(stopped):
                await stopped


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """While a report runs, SIGTERM unwinds like Ctrl-C (the kernel is shut down, temporary
    folders and the partial file are removed) and then the process exits with 143."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
