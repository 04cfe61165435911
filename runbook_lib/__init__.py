"""runbook: a Jupyter-notebook operations runbook for Docker service stacks.

The package is flat, one module per concern, laid out along the data's path:
connect -> gather (inventory, probes, logs) -> frames -> analyse (uptime,
diagnosis, plan) -> plot -> report.
"""

__version__ = "0.1.0"
