"""Maintenance windows: planned work that sends no alerts, blocks plan --apply, and leaves uptime alone."""
from runbook_lib.maintenance.windows import (WINDOW_COLUMNS, MaintenanceDB, active_windows, carve, in_window,
                                             recurring_windows, refuse_in_window, windows_frame)

__all__ = ["WINDOW_COLUMNS", "MaintenanceDB", "active_windows", "carve", "in_window", "recurring_windows",
           "refuse_in_window", "windows_frame"]
