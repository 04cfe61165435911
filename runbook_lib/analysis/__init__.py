"""Pure analyses over frames: tiers, KPIs, expected vs actual, plan, lint, diagnosis."""
