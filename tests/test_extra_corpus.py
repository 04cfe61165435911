"""An extra corpus: the vextrus-erp compose files in ../shared/fixtures/, used when present and never needed.

The project's own fixture (tests/fixtures/ledgerline-erp) carries the suite. When the
folder beside the repository exists (or RUNBOOK_EXTRA_CORPUS names another folder of
compose files), every file there goes through catalog, lint and plan, and through the
docker-compose 1.29 oracle where 1.29 accepts the file. Absent, the module is skipped
with the reason: the only skip the suite allows itself.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook_lib.analysis.expected import expected_vs_actual
from runbook_lib.analysis.lint import LINT_COLUMNS, lint_files
from runbook_lib.analysis.plan import recovery_plan
from runbook_lib.exceptions import ComposeError

from compose_helpers import all_fixture_files, compare_with_oracle, load, need_oracle, oracle_config, oracle_copy
from recovery_helpers import inventory

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("RUNBOOK_EXTRA_CORPUS") or REPO.parent / "shared" / "fixtures" / "vextrus-erp")

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"extra corpus {CORPUS} absent (optional)")


def _files() -> list[Path]:
    return all_fixture_files(CORPUS) if CORPUS.is_dir() else []


def _sets() -> list[list[Path]]:
    """Each file alone, plus each override (a file whose services lack image and build) after the main file."""
    sets = [[f] for f in _files()]
    main = CORPUS / "docker-compose.yml"
    if main.is_file():
        sets += [[main, f] for f in _files()
                 if f != main and ("override" in f.name or f.name.endswith((".prod.yml", ".monitoring.yml")))]
    return sets


@pytest.mark.parametrize("files", _sets(), ids=lambda s: "+".join(f.name for f in s))
def test_catalog_lint_and_plan(files):
    try:
        cat = load(files, profiles=["*"])
    except ComposeError as exc:  # a broken file must be named, with a fix
        assert exc.file and exc.fix, exc
        return
    assert cat.frame["service"].is_unique and len(cat.frame) + len(cat.inactive) >= 1
    df = lint_files(files, environ={}, profiles=["*"])
    assert list(df.columns) == LINT_COLUMNS
    status = expected_vs_actual(cat.frame, inventory([], project=cat.project), project=cat.project)
    plan = recovery_plan(cat.frame, status, project=cat.project)
    assert set(plan["service"]) == set(cat.frame["service"])
    wave = {r.service: r.wave for r in plan.itertuples()}
    for s, deps in zip(cat.frame["service"], cat.frame["depends_on"]):
        assert all(wave[d["service"]] < wave[s] for d in deps if d["service"] in wave), (files, s)


@pytest.fixture(scope="module")
def oracle_dir(tmp_path_factory) -> Path:
    need_oracle()
    dst = tmp_path_factory.mktemp("extra") / CORPUS.name
    oracle_copy(CORPUS, dst)
    for p in dst.rglob("*"):
        p.chmod(p.stat().st_mode | 0o200)
    return dst


@pytest.mark.parametrize("files", _sets(), ids=lambda s: "+".join(f.name for f in s))
def test_agrees_with_docker_compose_where_1_29_reads_it(files, oracle_dir):
    """Where 1.29 refuses a file (e.g. a build folder that is not in the corpus), runbook must still load it."""
    theirs = [oracle_dir / f.relative_to(CORPUS) for f in files]
    try:
        oracle_config(theirs)
    except AssertionError as exc:
        assert "docker-compose config failed" in str(exc)
        load(files, profiles=["*"])
        return
    compare_with_oracle(files, theirs)
