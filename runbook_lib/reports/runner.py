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

import concurrent.futures
import json
import os
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import nbformat
import papermill as pm
from nbconvert import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

from runbook_lib import redact
from runbook_lib.exceptions import ReportError
from runbook_lib.reports import archive, kernel as rkernel, params as rparams, site
from runbook_lib.reports.kernel import PACKAGE_ROOT, notebook_path, notebooks_dir  # noqa: F401 - re-exported
from runbook_lib.reports.publish import SUMMARY_MIME
from runbook_lib.view import render

TEMPLATES_DIR = PACKAGE_ROOT / "reports" / "templates"


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


_FOCUSABLE_DIV_RE = re.compile(r'<div\b(?=[^>]*\bclass="[^"]*\bjp-(?:Cell-inputWrapper|OutputArea-output)\b)'
                               r'(?![^>]*\btabindex=)')
_IMG_NO_ALT_RE = re.compile(r"<img\b(?![^>]*\balt=)")
NO_ALT_TEXT = "No description has been provided for this image"
PLOTLY_MIME = "application/vnd.plotly.v1+json"


class ReportExporter(HTMLExporter):
    """nbconvert's HTML exporter without its BeautifulSoup pass, which re-parses the whole page
    (~1 s for a report's tables) to add alt text to images and ``tabindex="0"`` to the inputs
    and outputs. The same attributes are added here on the template's own markup, outside
    scripts; the page is otherwise what the template rendered."""

    def from_notebook_node(self, nb, resources: dict[str, Any] | None = None, **kw: Any) -> tuple[str, dict]:
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code", self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return _accessible(html), resources

    def _create_environment(self) -> jinja2.Environment:
        """nbconvert's environment with Jinja's bytecode cache (per user, in the temporary folder):
        compiling the lab templates costs ~0.3-1 s in every process otherwise."""
        environment = super()._create_environment()
        environment.bytecode_cache = jinja2.FileSystemBytecodeCache()
        return environment


def report_exporter() -> ReportExporter:
    """The exporter for reports, its template loaded (a run builds it while the kernel works)."""
    exporter = ReportExporter(template_name="runbook", extra_template_basedirs=[str(TEMPLATES_DIR)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.optimistic_validation = True  # validate once after the preprocessors, not after each
    _ = exporter.template  # compiles (or loads from the bytecode cache) the template chain
    return exporter


def _prepared_exporter(nb_file: Path) -> ReportExporter:
    """The exporter, warmed on the (unexecuted) notebook while the kernel works: reading it compiles
    nbformat's schema validator (papermill's write and the export use it) and one export loads
    what nbconvert loads on its first export (the executed report's export then takes ~0.05 s,
    ~0.2 s cold)."""
    exporter = report_exporter()
    exporter.from_notebook_node(nbformat.read(str(nb_file), as_version=4))
    return exporter


def _export_view(nb):
    """The notebook as the HTML export needs it: outputs without plotly's JSON mimetype, which the
    HTML never shows (each figure's ``text/html`` draws it), so nbconvert's deep copies of the
    notebook skip every figure's data twice over. Shallow: the notebook itself is not changed."""
    def output(out):
        data = out.get("data")
        if not data or PLOTLY_MIME not in data:
            return out
        return nbformat.NotebookNode({**out, "data": nbformat.NotebookNode(
            {k: v for k, v in data.items() if k != PLOTLY_MIME})})
    return nbformat.NotebookNode({**nb, "cells": [
        nbformat.NotebookNode({**c, "outputs": [output(o) for o in c["outputs"]]}) if "outputs" in c else c
        for c in nb.cells]})


def _accessible(html: str) -> str:
    """Alt text on images without one, inputs and outputs focusable (as nbconvert does)."""
    def fix(markup: str) -> str:
        return _IMG_NO_ALT_RE.sub(f'<img alt="{NO_ALT_TEXT}"', _FOCUSABLE_DIV_RE.sub('<div tabindex="0"', markup))

    parts, pos = [], 0
    while (start := html.find("<script", pos)) >= 0:  # scripts (plotly.js is 4.8 MB) are left as they are
        end = html.find("</script>", start)
        end = len(html) if end < 0 else end + len("</script>")
        parts += [fix(html[pos:start]), html[start:end]]
        pos = end
    parts.append(fix(html[pos:]))
    return "".join(parts)


def export_html(nb, exporter: ReportExporter | None = None) -> str:
    """HTML with no code cells and nothing fetched from the network."""
    body, _ = (exporter or report_exporter()).from_notebook_node(_export_view(nb))
    # Belt and braces: no external script or stylesheet survives.
    body = re.sub(r'<script[^>]+src="https?://[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<link[^>]+href="https?://[^"]*"[^>]*>', "", body)
    return render.one_stylesheet(body)  # every table's copy of the stylesheet, kept once per page


def run_report(name: str, parameters: dict[str, Any] | None = None, output_dir: str | Path | None = None,
               progress: bool = True, shared_plotly: bool = False, kernel_name: str = "python3",
               cwd: str | Path | None = None, kernel: rkernel.StartedKernel | None = None) -> ReportResult:
    """Execute a report notebook into dated outputs; never leaves half-written files.

    Parameters are validated before the notebook runs (``ParameterError``). The output name is
    reserved when the run starts; the kernel's IPC files live in a private temporary folder
    that is removed at the end, also when the process gets SIGTERM. ``kernel``: one started
    early by the caller (``kernel.started_kernel``), used if it was started for the same folders.
    """
    nb_file = notebook_path(name)
    kind = nb_file.stem
    declared = rparams.declared_parameters(nb_file)
    params = rparams.validate_parameters(declared, dict(parameters or {}))
    out_dir = (Path(output_dir) if output_dir else archive.default_output_dir()).resolve()
    if "output_dir" in declared and params.get("output_dir") is None:
        params["output_dir"] = str(out_dir)  # e.g. the recovery report compares with the previous one
    run_dir = Path(cwd or Path.cwd())
    now = datetime.now(timezone.utc)
    with ExitStack() as stack:  # SIGTERM unwinds: the partial file and kernel folder go
        stack.enter_context(rkernel.terminate_as_exit())
        if kernel is None or not kernel.matches(run_dir, out_dir, kernel_name):
            kernel = stack.enter_context(rkernel.started_kernel(run_dir, out_dir, kernel_name, notebook=nb_file))
        day, stem, partial = archive.reserve(out_dir, kind, now)
        final_nb, final_html, final_json = (day / f"{stem}.{ext}" for ext in archive.REPORT_EXTS)
        error: str | None = None
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                exporter = pool.submit(_prepared_exporter, nb_file)  # the parent is idle while the kernel works
                pool.submit(site.prepare)  # a warm-up: a failure shows in the refresh, if anywhere
                try:
                    error, executed = _execute(nb_file, partial, params, progress, run_dir, kernel)
                finally:
                    kernel.request_stop()  # it exits while the HTML is made; stop() waits for it
            nb = executed if executed is not None else nbformat.read(str(partial), as_version=4)
            summary = collect_summaries(nb)
            _strip_for_sharing(nb)
            status = "failed" if error else ("degraded" if summary.get("status") == "degraded" else "ok")
            html = export_html(nb, exporter.result())
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
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                html_written = pool.submit(archive.atomic_write_text, final_html, html)  # syncs while the ipynb is made
                archive.atomic_write_text(final_nb, nbformat.writes(nb))
                html_written.result()
                archive.atomic_write_text(final_json, json.dumps(redact.mask_obj(doc), indent=2, default=str))  # last
            site.refresh(out_dir)  # while the kernel exits (the index ignores the hidden partial file)
        finally:
            kernel.stop()
            try:
                os.unlink(partial)
            except OSError:
                pass
        return ReportResult(kind, status, final_nb, final_html, final_json, doc, error)


def _execute(nb_file: Path, out_nb: Path, params: dict[str, Any], progress: bool, cwd: Path,
             kernel: rkernel.StartedKernel) -> tuple[str | None, Any]:
    """Run the notebook with papermill on the started kernel into ``out_nb``: (None, the executed
    notebook) or (the error text of a failing cell, None: the file holds papermill's error banner)."""
    kernel.used = True
    try:
        executed = pm.execute_notebook(str(nb_file), str(out_nb), parameters=params, kernel_name=kernel.kernel_name,
                            progress_bar=progress, cwd=str(cwd), request_save_on_cell_execute=False,
                            km=kernel.km)
    except pm.PapermillExecutionError as exc:
        return f"cell {exc.exec_count}: {exc.ename}: {redact.mask_text(str(exc.evalue))}", None
    except Exception as exc:  # noqa: BLE001 - kernel death, missing kernel …
        if not out_nb.exists() or out_nb.stat().st_size == 0:
            raise ReportError(f"Could not execute {nb_file.name}: {exc}. Is the 'python3' Jupyter kernel "
                              f"installed in this environment? (scripts/bootstrap.sh installs it)") from None
        return f"{type(exc).__name__}: {redact.mask_text(str(exc))}", None
    return None, executed
