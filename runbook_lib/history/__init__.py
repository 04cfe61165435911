"""History: the store, uptime, the collector, export."""
