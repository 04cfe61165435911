"""Write notebooks/uptime_report.ipynb (no outputs, no execution counts).

Run: .venv/bin/python scripts/make_uptime_report_notebook.py
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1]

cells = [
    new_markdown_cell(
        "# Uptime report\n\n"
        "Measured uptime from the history store that `runbook collect` fills: time-weighted up,\n"
        "degraded and down shares of the *measured* time, and coverage (the share of the window\n"
        "with data) beside them. A window with no samples reads \"no data\", never 0 %. States are\n"
        "debounced on ingest (consecutive-failure/success thresholds, start-period grace).\n\n"
        "Produced by `runbook report uptime_report -p window 7d`."),
    new_code_cell(
        "window: str = \"24h\"               # 1h, 24h, 7d, 30d, any duration, or START..END (ISO times)\n"
        "store_path: str | None = None      # history store; None: RUNBOOK_STORE or ~/.local/share/runbook/history.sqlite3\n"
        "project: str | None = None         # compose project; None: every service in the store\n"
        "config_path: str | None = None     # runbook.yaml (tier overrides)\n"
        "max_lanes: int = 60                # services shown in the timeline and heatmap (worst first)",
        metadata={"tags": ["parameters"]}),
    new_code_cell(
        "import pandas as pd\n"
        "from runbook_lib import config as rconfig, plots, render, report, tiers, uptime\n"
        "from runbook_lib.exceptions import RunbookError\n"
        "from runbook_lib.store import open_store\n\n"
        "now = uptime.utcnow()\n"
        "start, end = uptime.parse_window(str(window), now)\n"
        "problems, store = [], None\n"
        "try:\n"
        "    store = open_store(store_path, readonly=True)\n"
        "except RunbookError as exc:\n"
        "    problems.append(str(exc))\n"
        "try:\n"
        "    overrides = rconfig.load_config(config_path).tiers\n"
        "except RunbookError as exc:\n"
        "    overrides = {}\n"
        "    problems.append(str(exc))\n"
        "if store is not None:\n"
        "    services = store.services()\n"
        "    if project:\n"
        "        services = services[services[\"project\"] == project]\n"
        "    names = list(services[\"service\"])\n"
        "    since = min(start, now - pd.Timedelta(days=30))\n"
        "    runs_all = store.intervals(since, end, services=names, project=project)\n"
        "    runs = runs_all[(runs_all[\"end\"] > start) & (runs_all[\"start\"] < end)].reset_index(drop=True)\n"
        "    tier_of = {s: tiers.classify(s, i, False, overrides) for s, i in zip(services[\"service\"], services[\"image\"])}\n"
        "    table = uptime.uptime_table(runs, start, end, runs_30d=runs_all, services=names, tier_of=tier_of, now=now)\n"
        "    inc = uptime.incidents(runs_all, now=now, start=start, end=end)\n"
        "    lat = store.latency_stats(start, end, project=project)\n"
        "    lat = lat[lat[\"service\"].isin(names)]\n"
        "    rounds = store.rounds(start, end)\n"
        "    if rounds.empty:\n"
        "        problems.append(\"no collection rounds in this window: run `runbook collect` (see docs/history.md)\")\n"
        "    elif not rounds[\"engine_ok\"].all():\n"
        "        problems.append(f\"{int((~rounds['engine_ok']).sum())} of {len(rounds)} rounds could not reach the \"\n"
        "                        \"engine (recorded as unknown, lost coverage)\")\n"
        "render.banner(f\"Window {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC ({window})\"\n"
        "              + (f\", store {store.path}\" if store is not None else \"\"), \"info\")\n"
        "for p in problems:\n"
        "    render.banner(p, \"warning\" if store is not None else \"error\")"),
    new_markdown_cell("## Uptime by tier\n\n"
                      "`available %` = up + degraded share of the measured time; `coverage %` = share of\n"
                      "the window with data. The 1h/24h/7d/30d columns end now. MTTR: mean duration of\n"
                      "resolved incidents; MTBF: available time per incident."),
    new_code_cell(
        "if store is not None:\n"
        "    with_data = table[table[\"measured_s\"] > 0]\n"
        "    overall = (with_data[\"up_s\"].sum() + with_data[\"degraded_s\"].sum()) / with_data[\"measured_s\"].sum() * 100 \\\n"
        "        if len(with_data) else float(\"nan\")\n"
        "    render.kpis({\"Services\": len(table), \"Available\": \"no data\" if overall != overall else f\"{overall:.2f} %\",\n"
        "                 \"Coverage\": f\"{table['coverage_pct'].mean():.0f} %\" if len(table) else \"no data\",\n"
        "                 \"Incidents\": len(inc), \"Ongoing\": int(inc[\"ongoing\"].sum()) if len(inc) else 0,\n"
        "                 \"Down now\": int((table[\"state\"] == \"down\").sum())})\n"
        "    show = table.copy()\n"
        "    for c in [c for c in show.columns if c.endswith(\"_pct\")]:\n"
        "        show[c] = show[c].map(lambda v: \"no data\" if v != v else f\"{v:.2f}\")\n"
        "    show[\"mttr\"] = show[\"mttr_s\"].map(uptime.fmt_duration)\n"
        "    show[\"mtbf\"] = show[\"mtbf_s\"].map(uptime.fmt_duration)\n"
        "    cols = [\"service\", \"state\", \"uptime\", \"available_pct\", \"degraded_pct\", \"down_pct\", \"coverage_pct\",\n"
        "            \"1h_pct\", \"24h_pct\", \"7d_pct\", \"30d_pct\", \"incidents\", \"mttr\", \"mtbf\"]\n"
        "    for tier, g in show.groupby(\"tier\", sort=True):\n"
        "        render.heading(tiers.tier_label(tier), 3)\n"
        "        render.table(g, state_col=\"state\", columns=cols)"),
    new_markdown_cell("## Availability by hour\n\nGrey cells: no data in that hour."),
    new_code_cell(
        "if store is not None:\n"
        "    worst = list(table.sort_values(\"available_pct\", na_position=\"first\")[\"service\"][:max_lanes])\n"
        "    lanes = runs[runs[\"service\"].isin(worst)]\n"
        "    plots.show(plots.uptime_heatmap(uptime.hourly(lanes, start, end, now=now)))"),
    new_markdown_cell("## State timeline\n\nOne lane per service; hover a bar for its first error."),
    new_code_cell(
        "if store is not None:\n"
        "    plots.show(plots.state_timeline(uptime.clip(lanes, start, end, now=now)))"),
    new_markdown_cell("## Probe latency\n\n"
                      "p50/p95/p99 of successful probes. Exact from raw samples within their retention;\n"
                      "older windows use hourly roll-ups (`source` column)."),
    new_code_cell(
        "if store is not None:\n"
        "    plots.show(plots.latency_percentiles(lat))\n"
        "    render.table(lat.round(2), columns=[\"service\", \"p50_ms\", \"p95_ms\", \"p99_ms\", \"samples\", \"source\"])"),
    new_markdown_cell("## Incidents\n\nContiguous down periods overlapping the window (start, end or ongoing)."),
    new_code_cell(
        "if store is not None:\n"
        "    shown = inc.sort_values(\"start\", ascending=False).copy()\n"
        "    shown[\"status\"] = shown[\"ongoing\"].map({True: \"down\", False: \"up\"})\n"
        "    shown[\"duration\"] = shown[\"duration_s\"].map(uptime.fmt_duration)\n"
        "    shown[\"end\"] = shown[\"end\"].map(lambda v: \"ongoing\" if pd.isna(v) else f\"{v:%Y-%m-%d %H:%M:%S}\")\n"
        "    shown[\"start\"] = shown[\"start\"].map(lambda v: f\"{v:%Y-%m-%d %H:%M:%S}\")\n"
        "    render.table(shown, state_col=\"status\", columns=[\"service\", \"status\", \"start\", \"end\", \"duration\",\n"
        "                                                      \"first_error\"])"),
    new_code_cell(
        "summary = {\"window\": str(window), \"start\": start.isoformat(), \"end\": end.isoformat()}\n"
        "if store is None:\n"
        "    summary.update(status=\"degraded\", degraded_reasons=problems)\n"
        "else:\n"
        "    def _num(v):\n"
        "        return None if v != v else round(float(v), 4)\n"
        "    summary.update(\n"
        "        status=\"degraded\" if problems else \"ok\", degraded_reasons=problems,\n"
        "        available_pct=_num(overall), services=len(table), incidents=len(inc),\n"
        "        ongoing_incidents=int(inc[\"ongoing\"].sum()) if len(inc) else 0,\n"
        "        uptime=[{\"service\": r.service, \"tier\": r.tier, \"state\": r.state, \"uptime\": r.uptime,\n"
        "                 \"available_pct\": _num(r.available_pct), \"down_pct\": _num(r.down_pct),\n"
        "                 \"coverage_pct\": _num(r.coverage_pct), \"incidents\": int(r.incidents),\n"
        "                 \"mttr_s\": _num(r.mttr_s), \"mtbf_s\": _num(r.mtbf_s)} for r in table.itertuples()],\n"
        "        incident_list=[{\"service\": r.service, \"start\": r.start.isoformat(),\n"
        "                        \"end\": None if pd.isna(r.end) else r.end.isoformat(), \"duration_s\": r.duration_s,\n"
        "                        \"first_error\": r.first_error} for r in inc.itertuples()],\n"
        "        latency=lat.round(3).to_dict(\"records\"))\n"
        "    store.close()\n"
        "report.publish(summary)"),
]
nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.validate(nb)
out = HERE / "notebooks" / "uptime_report.ipynb"
nbformat.write(nb, str(out))
print(out)
