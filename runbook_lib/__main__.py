"""`python -m runbook_lib` is the `runbook` command."""
import sys

from runbook_lib.cli import main

sys.exit(main())
