"""`hub --help` in sections with one short line each; `-v` after the subcommand works too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from hub.cli import cli
from hub.cli_help import SECTIONS


def test_help_lists_every_command_once_in_its_section_with_a_whole_line() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    page = result.output
    titles = [title for title, _ in SECTIONS]
    assert titles == ["Set up", "Sources and items", "Audience", "Sending", "Running", "Store"]
    positions = [page.index(f"\n{title}:\n") for title in titles]
    assert positions == sorted(positions)
    for name in cli.list_commands(click.Context(cli)):
        command_lines = [line for line in page.splitlines() if line.split()[:1] == [name]]
        assert len(command_lines) == 1, f"{name} listed {len(command_lines)} times"
        assert not command_lines[0].rstrip().endswith("..."), command_lines[0]
        assert len(command_lines[0]) <= 80
    assert "Plugins:" not in page  # every built-in command has its section


def test_verbose_after_the_subcommand_logs_as_before_it(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_LOAD_PLUGINS": ""}
    subprocess.run([sys.executable, "-m", "hub", "init"], cwd=tmp_path, check=True, capture_output=True)
    quiet = subprocess.run([sys.executable, "-m", "hub", "poll"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr
    for args in (["-v", "poll", "--force"], ["poll", "--force", "-v"], ["poll", "--verbose", "--force"]):
        loud = subprocess.run([sys.executable, "-m", "hub", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert loud.returncode == 0, loud.stderr
        assert " INFO hub.poll: ejemplo:" in loud.stderr, args
