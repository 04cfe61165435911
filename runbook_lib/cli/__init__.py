"""The `runbook` command line: the parser, and commands that turn arguments into one
library call and format its result. Domain code never reads argparse namespaces.

Errors under RunbookError print their message (which says what to do) and exit with the
error's exit code; nothing prints a traceback.
"""
from __future__ import annotations

import importlib
import sys

from runbook_lib.cli.parser import build_parser
from runbook_lib.exceptions import RunbookError


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the command's handler, map runbook errors to exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    module_name, func_name = func.split(":")
    # imported here, not at the top: only the command that runs pays for its imports
    handler = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(handler(args) or 0)
    except RunbookError as exc:
        print(f"runbook: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("runbook: interrupted", file=sys.stderr)
        return 130
