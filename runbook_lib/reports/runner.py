"""The report runner: a notebook, executed by papermill, into dated ipynb, HTML and JSON.

``runbook report NAME [-p K V]...`` validates the parameters against the notebook's
declared ones (``params.py``, before anything runs), reserves
``outputs/YYYY-MM-DD/NAME-HHMMSSZ[-N]`` (``archive.py``), executes the notebook into the
reserved partial file with its kernel's IPC files in a private temporary folder, exports
HTML with no code cells and nothing fetched from a CDN, writes the JSON summary the
notebook published, and refreshes ``outputs/index.html`` and ``outputs/latest.html``.
No half-written file ever sits under a final name. A failing cell still yields the
HTML (with papermill's error banner) and a non-zero exit.
"""
from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
from jupyter_client.manager import AsyncKernelManager
from nbconvert import HTMLExporter
from traitlets import default

from runbook_lib import redact
from runbook_lib.exceptions import ReportError
from runbook_lib.reports import archive, params as rparams, site
from runbook_lib.reports.publish import SUMMARY_MIME

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # runbook_lib/
TEMPLATES_DIR = PACKAGE_ROOT / "reports" / "templates"


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


# -- running ------------------------------------------------------------------
@dataclass
class ReportResult:
    kind: str
    status: str  # ok | degraded | failed
    ipynb: Path
    html: Path
    json: Path
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def collect_summaries(nb) -> dict[str, Any]:
    """Merge every published summary of an executed notebook (later keys win)."""
    merged: dict[str, Any] = {}
    reasons: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data") or {}
            if SUMMARY_MIME in data:
                part = data[SUMMARY_MIME]
                if isinstance(part, str):
                    part = json.loads(part)
                reasons.extend(part.get("degraded_reasons", []) or [])
                merged.update(part)
    if reasons:
        merged["degraded_reasons"] = list(dict.fromkeys(reasons))
    return merged


def _strip_for_sharing(nb) -> None:
    """Remove summary outputs and mask text outputs (a safety net; the kernel masks first)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = redact.mask_text(cell.source)
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None and SUMMARY_MIME in data:
                continue
            if out.get("output_type") == "stream":
                out["text"] = redact.mask_text(out.get("text", ""))
            elif out.get("output_type") == "error":
                out["evalue"] = redact.mask_text(out.get("evalue", ""))
                out["traceback"] = [redact.mask_text(t) for t in out.get("traceback", [])]
            elif data is not None and "text/plain" in data and "text/html" not in data:
                data["text/plain"] = redact.mask_text(data["text/plain"])
            kept.append(out)
        cell["outputs"] = kept


def export_html(nb) -> str:
    """HTML with no code cells and nothing fetched from the network."""
    exporter = HTMLExporter(template_name="runbook", extra_template_basedirs=[str(TEMPLATES_DIR)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    # Belt and braces: no external script or stylesheet survives.
    body = re.sub(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<link[^>]+href="https?://[^"]*"[^>]*>', "", body)
    return body


def run_report(name: str, parameters: dict[str, Any] | None = None, output_dir: str | Path | None = None,
               progress: bool = True, shared_plotly: bool = False, kernel_name: str = "python3",
               cwd: str | Path | None = None) -> ReportResult:
    """Execute a report notebook into dated outputs; never leaves half-written files.

    Parameters are validated before anything runs (``ParameterError``). The output name is
    reserved when the run starts; the kernel's IPC files live in a private temporary folder
    that is removed at the end, also when the process gets SIGTERM.
    """
    nb_file = notebook_path(name)
    kind = nb_file.stem
    declared = rparams.declared_parameters(nb_file)
    params = rparams.validate_parameters(declared, dict(parameters or {}))
    out_dir = (Path(output_dir) if output_dir else archive.default_output_dir()).resolve()
    if "output_dir" in declared and params.get("output_dir") is None:
        params["output_dir"] = str(out_dir)  # e.g. the recovery report compares with the previous one
    now = datetime.now(timezone.utc)
    with _terminate_as_exit():  # SIGTERM unwinds: the partial file and kernel folder go
        day, stem, partial = archive.reserve(out_dir, kind, now)
        final_nb, final_html, final_json = (day / f"{stem}.{ext}" for ext in archive.REPORT_EXTS)
        error: str | None = None
        try:
            with tempfile.TemporaryDirectory(prefix="runbook-kernel-") as ipc_dir:
                error = _execute(nb_file, partial, params, kernel_name, progress, Path(cwd or Path.cwd()),
                                 Path(ipc_dir), out_dir)
            nb = nbformat.read(str(partial), as_version=4)
            summary = collect_summaries(nb)
            _strip_for_sharing(nb)
            status = "failed" if error else ("degraded" if summary.get("status") == "degraded" else "ok")
            html = export_html(nb)
            if shared_plotly:
                asset = site.shared_plotly_asset(out_dir)
                html = site.externalize_plotly(html, os.path.relpath(asset, day))
            meta = {
                "kind": kind, "status": status, "generated_at": now.isoformat().replace("+00:00", "Z"),
                "parameters": redact.mask_obj(params), "notebook": final_nb.name, "html": final_html.name,
                "error": error,
            }
            doc = {**summary, **meta}
            if summary.get("status") == "degraded" and status == "failed":
                doc["degraded"] = True
            archive.atomic_write_text(final_nb, nbformat.writes(nb))
            archive.atomic_write_text(final_html, html)
            archive.atomic_write_text(final_json, json.dumps(redact.mask_obj(doc), indent=2, default=str))
        finally:
            try:
                os.unlink(partial)
            except OSError:
                pass
        site.refresh(out_dir)
        return ReportResult(kind, status, final_nb, final_html, final_json, doc, error)


def _execute(nb_file: Path, out_nb: Path, params: dict[str, Any], kernel_name: str, progress: bool,
             cwd: Path, ipc_dir: Path, out_dir: Path) -> str | None:
    """Run the notebook with papermill into ``out_nb``; the error text of a failing cell, or None."""
    saved_env = os.environ.get("RUNBOOK_OUTPUT_DIR")
    os.environ["RUNBOOK_OUTPUT_DIR"] = str(out_dir)  # the kernel inherits it
    try:
        pm.execute_notebook(str(nb_file), str(out_nb), parameters=params, kernel_name=kernel_name,
                            progress_bar=progress, cwd=str(cwd), request_save_on_cell_execute=False,
                            **_kernel_manager_kwargs(ipc_dir))
    except pm.PapermillExecutionError as exc:
        return f"cell {exc.exec_count}: {exc.ename}: {redact.mask_text(str(exc.evalue))}"
    except Exception as exc:  # noqa: BLE001 - kernel death, missing kernel …
        if not out_nb.exists() or out_nb.stat().st_size == 0:
            raise ReportError(f"Could not execute {nb_file.name}: {exc}. Is the 'python3' Jupyter kernel "
                              f"installed in this environment? (scripts/bootstrap.sh installs it)") from None
        return f"{type(exc).__name__}: {redact.mask_text(str(exc))}"
    finally:
        if saved_env is None:
            os.environ.pop("RUNBOOK_OUTPUT_DIR", None)
        else:
            os.environ["RUNBOOK_OUTPUT_DIR"] = saved_env
    return None


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
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


def _kernel_manager_kwargs(ipc_dir: Path) -> dict[str, Any]:
    """On POSIX the kernel talks over unix sockets (IPC), not TCP on 127.0.0.1: no open ports,
    and no "running over TCP without encryption" warning in every report run. The sockets and
    the connection file live in ``ipc_dir`` (private to this run), never in the working folder."""
    if os.name != "posix":
        return {}

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return str(ipc_dir / "kernel-ipc")

        @default("connection_file")
        def _default_connection_file(self) -> str:
            return str(ipc_dir / "kernel.json")
    return {"kernel_manager_class": IPCKernelManager}
