"""The health_check report's sections over one or several engines (``engines.Engines``).

Each ``show_*`` renders one section and publishes its summary. With several hosts every
table has a ``host`` column first, KPIs come per host plus a total, and figures colour or
facet by host (``view.hostplots``); an unreachable host is an ``unknown`` row with its reason
in every section and makes the report degraded. With one engine the output is as before.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from runbook_lib.analysis import kpis, warnings as early
from runbook_lib.analysis.hosts import kpis_by_host, kpis_by_host_project
from runbook_lib.engine import inventory, stats as engine_stats
from runbook_lib.history import uptime
from runbook_lib.probes import discovery, rows as probe_rows, stack_round
from runbook_lib.probes.rows import PROBE_COLUMNS
from runbook_lib.reports import publish as report
from runbook_lib.reports.engines import UNREACHABLE, Engines, records
from runbook_lib.stack import Stack
from runbook_lib.view import hostplots, plots, render, resources


def show_engine(eng: Engines, run_probes: bool | None = None) -> None:
    """Degraded banners (one per unreachable host) and the engine's status; starts the resource
    stats read in the background (``show_resources`` takes it), off the report's critical path,
    and, given ``run_probes``, the probe round (``show_probes`` takes it)."""
    eng.start_stats()
    if run_probes is not None and eng.probes_pending is None:
        eng.probes_pending = eng.start(probe_round, eng, run_probes)
    st = eng.single
    if not eng.named:
        if st.engine_error:
            render.banner(f"Degraded report: {st.engine_error}", "error")
            report.publish({"status": "degraded", "degraded_reasons": [str(st.engine_error)],
                            "engine": {"ok": False, "error": str(st.engine_error), "cause": st.engine_error.cause}})
        else:
            report.publish({"engine": {"ok": True, "url": st.engine_url}})
    else:
        reasons = eng.degraded_reasons
        for reason in reasons:
            render.banner(f"Degraded report: {reason}", "error")
        engines = {h: {"ok": s.client is not None, "url": s.engine_url, "error": eng.reason(h)}
                   for h, s in eng.stacks.items()}
        report.publish({"engines": engines, "engine": {"ok": all(e["ok"] for e in engines.values())},
                        **({"status": "degraded", "degraded_reasons": reasons} if reasons else {})})
    down = tuple(f"[{h}] " for h in eng.hosts if eng.named and eng.reason(h))  # already in the banners above
    for note in eng.inventory.attrs.get("notes", []):
        if not note.startswith(down or ("\0",)):
            render.banner(note, "warning")


def show_summary(eng: Engines) -> None:
    """KPIs of every container (the total), then per host and per (host, project)."""
    inv = eng.inventory
    known = inv[~((inv["state"] == "unknown") & inv["name"].isna())] if eng.named else inv
    k = kpis.summary_kpis(known)
    render.kpis(kpis.kpi_tiles(k))
    render.banner(kpis.headline(k), "ok" if k["running"] == k["containers"] and k["unhealthy"] == 0 else "warning")
    out: dict[str, Any] = {"kpis": k, "headline": kpis.headline(k)}
    if eng.named:
        by_host = kpis_by_host(inv)
        render.heading("By host", 3)
        render.table(by_host)
        out["kpis_by_host"] = records(by_host)
        by_project = kpis_by_host_project(inv)  # the same project on two hosts: two rows
    else:
        by_project = kpis.kpis_by_project(inv)
    render.table(by_project)
    out["by_project"] = records(by_project)
    report.publish(out)


def _unknown_container(host: str, why: str) -> dict[str, Any]:
    return {"service": UNREACHABLE, "container": "(unreachable)", "state": "unknown", "health": "unknown",
            "last health output": f"host {host} unreachable: {why}"}


def show_containers(eng: Engines, store_path: str | None = None, project: str | None = None,
                    config_path: str | None = None) -> None:
    """Every container (worst first), with its measured 24 h uptime."""
    cols = list(inventory.status_table(inventory.empty_inventory()).columns)
    table = eng.per_host(lambda h, st: inventory.status_table(st.inventory), cols, _unknown_container)
    table, note = uptime.with_uptime_24h(table, store_path, project, config_path=config_path)
    render.table(table, state_col=["state", "health"], pre_cols=["last health output"])
    if note:
        render.banner(note, "warning" if table.attrs.get("degraded_reason") else "info")
    if table.attrs.get("degraded_reason"):  # a damaged store: degraded, not failed
        report.publish({"status": "degraded", "degraded_reasons": [table.attrs["degraded_reason"]]})
    inv = eng.inventory.dropna(subset=["name"])
    labels = {(f"{h}/{n}" if eng.named else n): lab
              for h, n, lab in zip(inv["host"] if eng.named else [""] * len(inv), inv["name"], inv["labels"])}
    report.publish({"containers": records(table), "labels": labels})


def probe_round(eng: Engines, run_probes: bool = True) -> tuple[stack_round.StackProbe | None, pd.DataFrame | None,
                                                                 list[str]]:
    """Probe every host's projects: (one host's result or None, rows with ``host``, notes)."""
    if not run_probes:
        return None, None, ["probes not requested"]
    if not eng.named:
        res, notes = stack_round.probe_projects(eng.single)
        return res, None if res is None else res.rows, notes
    notes: list[str] = []
    audits: list[pd.DataFrame] = []

    def one(host: str, st: Stack) -> pd.DataFrame | None:
        res, n = stack_round.probe_projects(st)
        notes.extend(f"[{host}] {x}" for x in n)
        if res is not None:
            audits.append(res.audit.assign(host=host))
        return None if res is None else res.rows

    rows = eng.per_host(one, PROBE_COLUMNS)
    res = stack_round.StackProbe(rows=rows, all_rows=rows, specs=[],
                                 audit=pd.concat(audits, ignore_index=True) if audits else pd.DataFrame(),
                                 notes=notes, engine_ok=any(s.client is not None for s in eng.stacks.values()),
                                 project=None)
    return res, rows, notes


def show_probes(eng: Engines, run_probes: bool = True) -> stack_round.StackProbe | None:
    """The native probes: KPIs, the table, the status grid and the latency chart (by host).
    Takes the round ``show_engine`` started, else probes now."""
    pending, eng.probes_pending = eng.probes_pending, None
    res, rows, notes = pending.result() if pending is not None else probe_round(eng, run_probes)
    for note in notes:
        render.banner(note, "warning")
    if res is None:
        return None
    s = stack_round.stack_summary(res)
    render.kpis({"Checks": s["probes_total"], **s["probes_by_state"], "Coverage": f"{s['probe_coverage_pct']} %"})
    if eng.named:
        render.table(rows.groupby("host", sort=False)["state"].value_counts().unstack(fill_value=0).reset_index())
    render.table(rows.drop(columns=["detail", "ok"]), state_col="state")
    plots.show(hostplots.probe_status_grid(rows))
    plots.show(hostplots.probe_latency_chart(rows))
    report.publish({"probes": s, "probe_rows": probe_rows.rows_to_json(rows)})
    return res


def show_components(res: stack_round.StackProbe | None) -> None:
    """Terminus components and the health-endpoint audit."""
    if res is None:
        return
    rows = res.rows
    comps = plots.probe_components_frame(rows)
    if "host" in rows.columns and hostplots.hosts_of(rows):
        parts = [plots.probe_components_frame(g).assign(host=h) for h, g in rows.groupby("host", sort=False)]
        comps = pd.concat(parts, ignore_index=True)[["host", *comps.columns]]
    render.table(comps, state_col="status")
    plots.show(plots.probe_components_figure(hostplots.host_prefixed(rows) if "host" in rows.columns else rows))
    audit = res.audit
    if len(audit) and "host" in audit.columns:
        render.table(pd.concat([discovery.audit_matrix(g).assign(host=h) for h, g in audit.groupby("host", sort=False)],
                               ignore_index=True).pipe(lambda d: d[["host", *[c for c in d.columns if c != "host"]]]))
        plots.show(plots.endpoint_audit_figure(audit.assign(service=[f"{h} · {s}" for h, s in
                                                                      zip(audit["host"], audit["service"])])))
    else:
        render.table(discovery.audit_matrix(audit))
        plots.show(plots.endpoint_audit_figure(audit))


def show_resources(eng: Engines) -> None:
    """Memory against each container's limit (by host) and the early warnings."""
    def warn(host: str, st: Stack) -> pd.DataFrame:
        s = by_host_stats.get(host, engine_stats.empty_frame()) if eng.named else st_all
        cat = st.catalog.frame if st.catalog is not None else None
        return early.early_warnings(stats_history=s, inventory=st.inventory, catalog_frame=cat,
                                    timeouts_s=early.health_timeouts(cat), mem_samples=1)

    # the read started in show_engine; a failed read is timed, as any read
    st_all = eng.per_host(lambda host, _st: eng.stats(host), list(engine_stats.COLUMNS),
                          lambda h, why: {"service": UNREACHABLE, "error": why, "read_at": pd.Timestamp.now(tz="UTC")})
    by_host_stats = {h: g.drop(columns=["host"]) for h, g in st_all.groupby("host", sort=False)} if eng.named else {}
    table = _host_resource_table(st_all) if eng.named else resources.resource_table(st_all)
    render.table(table)
    plots.show(hostplots.memory_vs_limit(st_all))
    w = eng.per_host(warn, list(early.WARNING_COLUMNS))
    if len(w):
        render.table(w)
    else:
        render.banner("No early warnings.", "ok")
    report.publish({"resources": engine_stats.records(st_all), "warnings": records(w)})


def _host_resource_table(st_all: pd.DataFrame) -> pd.DataFrame:
    parts = [resources.resource_table(g).assign(host=h) for h, g in st_all.groupby("host", sort=False)]
    out = pd.concat(parts, ignore_index=True) if parts else resources.resource_table(st_all).assign(host=None)
    return out[["host", *[c for c in out.columns if c != "host"]]]


def show_charts(eng: Engines) -> None:
    """State, uptime and restarts of every container (facets / colours by host)."""
    inv = eng.inventory
    plots.show(hostplots.state_by_service(inv))
    plots.show(hostplots.container_uptime(inv))
    plots.show(hostplots.restart_counts(inv))
