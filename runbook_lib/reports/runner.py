"""The report runner: a notebook, executed by papermill, into dated ipynb, HTML and JSON.

``runbook report NAME [-p K V]...`` validates the parameters against the notebook's
declared ones (before anything runs), executes it into
``outputs/YYYY-MM-DD/NAME-HHMMSSZ.ipynb`` under a temporary name, exports HTML with
no code cells and nothing fetched from a CDN, writes the JSON summary the notebook
published, and refreshes ``outputs/index.html`` and ``outputs/latest.html``.
No half-written file ever sits under a final name. A failing cell still yields the
HTML (with papermill's error banner) and a non-zero exit.
"""
from __future__ import annotations

import ast
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runbook_lib import redact
from runbook_lib.exceptions import NotebookFailed, ParameterError, ReportError

# jsonschema imports the optional `rfc3987_syntax` (it builds a Lark grammar: ~0.8 s) only for
# "iri" format checks, which notebook validation never uses; keep it out of our processes.
if "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]

SUMMARY_MIME = "application/vnd.runbook.summary+json"
PACKAGE_DIR = Path(__file__).resolve().parent
NOTEBOOKS_DIR = Path(os.environ.get("RUNBOOK_NOTEBOOKS") or PACKAGE_DIR.parent.parent / "notebooks")
TEMPLATES_DIR = PACKAGE_DIR / "templates"
REPORT_NAME_RE = re.compile(r"^(?P<kind>[A-Za-z0-9_]+)-(?P<time>\d{6}Z)(?:-(?P<n>\d+))?\.(?P<ext>ipynb|html|json)$")


# -- inside the kernel --------------------------------------------------------
def publish(summary: dict[str, Any]) -> None:
    """Hand machine-readable results to the runner (merged into the report's .json).

    Masked and made JSON-safe here; shows nothing in JupyterLab or the HTML.
    """
    from IPython.display import display
    safe = json.loads(json.dumps(redact.mask_obj(summary), default=str))
    display({SUMMARY_MIME: safe, "text/plain": ""}, raw=True)


# -- parameters ---------------------------------------------------------------
def notebook_path(name: str) -> Path:
    """The notebook for a report name (or a path to one)."""
    p = Path(name)
    if p.suffix == ".ipynb" and p.exists():
        return p.resolve()
    cand = NOTEBOOKS_DIR / f"{name}.ipynb"
    if cand.exists():
        return cand
    known = sorted(q.stem for q in NOTEBOOKS_DIR.glob("*.ipynb"))
    raise ReportError(f"No report named '{name}'. Known reports: {', '.join(known) or '(none)'} "
                      f"(notebooks in {NOTEBOOKS_DIR}).")


@dataclass(frozen=True)
class DeclaredParameter:
    name: str
    type_name: str  # from the annotation, else from the default value
    default: Any
    optional: bool


def declared_parameters(nb_file: Path) -> dict[str, DeclaredParameter]:
    """Parameters declared in the notebook's `parameters` cell (name -> type, default)."""
    import nbformat
    nb = nbformat.read(str(nb_file), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return {}
    out: dict[str, DeclaredParameter] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, ann, value = node.target.id, ast.unparse(node.annotation), node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, ann, value = node.targets[0].id, "", node.value
        else:
            continue
        try:
            default = ast.literal_eval(value) if value is not None else None
        except ValueError:
            default = None
        type_name = ann or (type(default).__name__ if default is not None else "Any")
        optional = default is None or "None" in ann or "Optional" in ann
        out[name] = DeclaredParameter(name, type_name, default, optional)
    return out


def parse_value(raw: str) -> Any:
    """A -p value read as YAML (7d stays a string; true, 3, [a, b] get their types)."""
    import yaml
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
          "dict": (dict,)}


def validate_parameters(declared: dict[str, DeclaredParameter], given: dict[str, Any]) -> dict[str, Any]:
    """Check names and types; return the parameters with values coerced where safe."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in declared:
            raise ParameterError(f"Unknown parameter '{name}'. This report declares: "
                                 f"{', '.join(sorted(declared)) or '(none)'}.")
        d = declared[name]
        if value is None:
            if not d.optional:
                raise ParameterError(f"Parameter '{name}' may not be null (expected {d.type_name}).")
            out[name] = None
            continue
        base = [t for t in re.split(r"[\[\]|, ]+", d.type_name.replace("Optional", "")) if t in _TYPES]
        if not base:  # Any / unknown annotation: accept
            out[name] = value
            continue
        if "str" in base and not isinstance(value, str) and not isinstance(value, (list, dict)):
            value = str(value)  # `-p project 2024` means the string "2024"
        ok = any(isinstance(value, _TYPES[t]) and not (t in ("int", "float") and isinstance(value, bool))
                 for t in base)
        if not ok:
            raise ParameterError(f"Parameter '{name}' expects {d.type_name}, got {type(value).__name__} "
                                 f"{value!r}. Example: -p {name} {_example(base[0])}")
        out[name] = value
    return out


def _example(t: str) -> str:
    return {"str": "text", "int": "3", "float": "2.5", "bool": "true", "list": "'[a, b]'",
            "dict": "'{k: v}'"}.get(t, "value")


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


def default_output_dir() -> Path:
    return Path(os.environ.get("RUNBOOK_OUTPUT_DIR") or Path.cwd() / "outputs")


def _atomic_write(path: Path, data: str | bytes) -> None:
    from runbook_lib.reports.site import atomic_write_bytes
    atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)


def _final_paths(out_dir: Path, kind: str, now: datetime) -> tuple[Path, str]:
    day = out_dir / now.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    stem = f"{kind}-{now.strftime('%H%M%SZ')}"
    n = 0
    while any((day / f"{stem}{'' if n == 0 else f'-{n}'}.{ext}").exists() for ext in ("ipynb", "html", "json")):
        n += 1
    return day, stem if n == 0 else f"{stem}-{n}"


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
    from nbconvert import HTMLExporter
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
    """Execute a report notebook into dated outputs; never leaves half-written files."""
    import nbformat
    import papermill as pm

    nb_file = notebook_path(name)
    kind = nb_file.stem
    declared = declared_parameters(nb_file)
    params = validate_parameters(declared, dict(parameters or {}))
    out_dir = (Path(output_dir) if output_dir else default_output_dir()).resolve()
    if "output_dir" in declared and params.get("output_dir") is None:
        params["output_dir"] = str(out_dir)  # e.g. the recovery report compares with the previous one
    now = datetime.now(timezone.utc)
    day, stem = _final_paths(out_dir, kind, now)
    final_nb, final_html, final_json = (day / f"{stem}.{ext}" for ext in ("ipynb", "html", "json"))
    fd, tmp_nb = tempfile.mkstemp(prefix=f".{stem}.", suffix=".partial.ipynb", dir=day)
    os.close(fd)
    error: str | None = None
    try:
        saved_env = os.environ.get("RUNBOOK_OUTPUT_DIR")
        os.environ["RUNBOOK_OUTPUT_DIR"] = str(out_dir)  # the kernel inherits it
        try:
            pm.execute_notebook(str(nb_file), tmp_nb, parameters=params, kernel_name=kernel_name,
                                progress_bar=progress, cwd=str(cwd or Path.cwd()),
                                request_save_on_cell_execute=False, **_kernel_manager_kwargs())
        except pm.PapermillExecutionError as exc:
            error = f"cell {exc.exec_count}: {exc.ename}: {redact.mask_text(str(exc.evalue))}"
        except Exception as exc:  # noqa: BLE001 - kernel death, missing kernel …
            if not Path(tmp_nb).exists() or Path(tmp_nb).stat().st_size == 0:
                raise ReportError(f"Could not execute {nb_file.name}: {exc}. Is the 'python3' Jupyter kernel "
                                  f"installed in this environment? (scripts/bootstrap.sh installs it)") from None
            error = f"{type(exc).__name__}: {redact.mask_text(str(exc))}"
        finally:
            if saved_env is None:
                os.environ.pop("RUNBOOK_OUTPUT_DIR", None)
            else:
                os.environ["RUNBOOK_OUTPUT_DIR"] = saved_env
        nb = nbformat.read(tmp_nb, as_version=4)
        summary = collect_summaries(nb)
        _strip_for_sharing(nb)
        status = "failed" if error else ("degraded" if summary.get("status") == "degraded" else "ok")
        html = export_html(nb)
        if shared_plotly:
            from runbook_lib.reports import site
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
        _atomic_write(final_nb, nbformat.writes(nb))
        _atomic_write(final_html, html)
        _atomic_write(final_json, json.dumps(redact.mask_obj(doc), indent=2, default=str))
    finally:
        try:
            os.unlink(tmp_nb)
        except OSError:
            pass
    refresh_site(out_dir)
    return ReportResult(kind, status, final_nb, final_html, final_json, doc, error)


def _kernel_manager_kwargs() -> dict[str, Any]:
    """On POSIX the kernel talks over unix sockets (IPC), not TCP on 127.0.0.1: no open ports,
    and no "running over TCP without encryption" warning in every report run."""
    if os.name != "posix":
        return {}
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"
    return {"kernel_manager_class": IPCKernelManager}


def refresh_site(out_dir: Path) -> None:
    """Rebuild outputs/index.html and outputs/latest.html."""
    try:
        from runbook_lib.reports import site
    except ImportError:  # pragma: no cover - site.py ships with the package
        return
    site.write_index(out_dir)
    site.write_latest(out_dir)
