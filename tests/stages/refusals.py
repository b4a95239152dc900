"""The check of a bad-input table case (as in test_bad_inputs.py): exit 2, one line on stderr, no traceback,
the expected parts in the line, and nothing under the fixture root created, changed or removed."""

from __future__ import annotations

from stages.test_bad_inputs import call, snapshot


def check_refusal(values: dict, argv: list[str], expected: list[str], capsys, monkeypatch) -> None:
    """Run ``datamap *argv`` (``{placeholders}`` from ``values``, whose ``root`` is the fixture tree) and check it."""
    monkeypatch.chdir(values["root"])
    args = [a.format(**values) for a in argv]
    before = snapshot(values["root"])
    capsys.readouterr()
    code = call(*args)
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}; stderr: {err}"
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    for part in expected:
        assert part.format(**values) in err, f"{part!r} not in {err!r}"
    assert snapshot(values["root"]) == before, "files were created, changed or removed"
