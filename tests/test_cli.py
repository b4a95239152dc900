"""The command line: every command documents itself with examples; errors are one line with exit code 2."""

import pytest
from typer.testing import CliRunner

from datamap import __version__
from datamap.cli import app, main

COMMANDS = ["train", "metrics", "plot", "import-dynamics", "export-dynamics", "evaluate", "ensemble", "report",
            "select", "compare", "embed", "cluster", "noise", "errors", "crossval", "run"]
runner = CliRunner()


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"datamap {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    r = runner.invoke(app, [command, "--help"])
    assert r.exit_code == 0, r.stdout
    assert "Examples" in r.stdout and "datamap " + command in r.stdout


def test_main_turns_datamap_errors_into_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["metrics", str(tmp_path / "missing")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "run directory not found" in err
