"""megforge.smoke's runner (``python -m megforge.smoke``): skips, ``--require``, ``--must-pass``,
and the list of checks every target's runtime smoke run must pass."""

from __future__ import annotations

import pytest

from megforge.release.smoke import EVERY_TARGET
from megforge.smoke import CHECKS, Check
from megforge.smoke.__main__ import main

MISSING = "megforge_no_such_module_for_tests"


@pytest.fixture
def unavailable(monkeypatch):
    """A registered check whose module is missing (it is never loaded)."""
    monkeypatch.setitem(CHECKS, "needs-missing", Check("checks:cli", (MISSING,), "test"))
    return "needs-missing"


def test_missing_module_is_a_skip_by_default(unavailable, capsys):
    assert main([unavailable]) == 0
    assert f"SKIP {unavailable}: needs {MISSING}" in capsys.readouterr().out


def test_required_module_makes_the_skip_a_failure(unavailable, capsys):
    assert main([unavailable, "--require", MISSING]) == 1
    assert f"FAIL {unavailable}: needs {MISSING}" in capsys.readouterr().out


def test_must_pass_check_cannot_skip(unavailable, capsys):
    assert main(["cli", "--must-pass", unavailable]) == 1  # run although not selected
    out = capsys.readouterr().out
    assert "PASS cli" in out
    assert f"FAIL {unavailable}: needs {MISSING} (must pass)" in out
    assert main(["--must-pass", "cli", "cli"]) == 0  # a passing must-pass check, selected once
    assert capsys.readouterr().out.count("PASS cli") == 1


def test_unknown_checks_are_named(capsys):
    for argv in (["no-such-check"], ["--must-pass", "no-such-check"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "unknown check(s) ['no-such-check']" in capsys.readouterr().err


def test_every_target_lists_exactly_the_checks_without_optional_modules():
    """A new megforge-only check (like train-native) must be added to EVERY_TARGET, so that every
    target's runtime smoke run fails when it is skipped."""
    assert "train-native" in EVERY_TARGET
    assert list(EVERY_TARGET) == [name for name, check in CHECKS.items() if not check.needs]


def test_ci_smoke_commands_must_pass_every_target_check():
    """cibuildwheel's test-command (run on every native runner, macos-14 included) and the sdist
    job pass --must-pass for each EVERY_TARGET check."""
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # CPython >= 3.11 (the py311 env)
    root = Path(__file__).resolve().parents[2]
    commands = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["cibuildwheel"]["test-command"]
    smoke = [c for c in commands if c.startswith("python -m megforge.smoke")]
    workflow = [line.strip() for line in (root / ".github/workflows/wheels.yml").read_text().splitlines()
                if "python -m megforge.smoke" in line]
    assert len(smoke) == 1 and len(workflow) == 1
    for command in smoke + workflow:
        assert re.findall(r"--must-pass (\S+)", command) == list(EVERY_TARGET), command
