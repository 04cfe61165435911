"""Report notebooks: runner, site, one module per report, templates."""
