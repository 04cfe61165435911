"""Report notebooks: runner, site, one module per report, templates."""
import sys

# jsonschema (through nbformat) imports the optional `rfc3987_syntax`, which builds a Lark grammar
# (~0.8 s, more on a busy machine) only for "iri" format checks that notebook validation never
# uses. Done here, before any reports module imports nbformat, to keep it out of our processes.
if "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
