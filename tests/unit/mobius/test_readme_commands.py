"""README is a contract: every `mobius ...` command and option it shows exists in the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from mobius.cli.app import app

README = Path(__file__).resolve().parents[3] / "README.md"
# `mobius ...` in inline code, or a shell line running mobius (optionally .venv/bin/mobius).
_INLINE = re.compile(r"`(?:\.venv/bin/)?mobius ([^`]+)`")
_SHELL = re.compile(r"^\s*(?:\$ )?(?:\.venv/bin/)?mobius (.+)$", re.MULTILINE)


def _mentions(text: str) -> list[str]:
    found = [m.group(1) for m in _INLINE.finditer(text)]
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL):
        found += [m.group(1).split("#")[0] for m in _SHELL.finditer(block)]
    return found


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The (Typer-vendored click) command a README line names, and its path."""
    command: Any = typer.main.get_command(app)
    path = ["mobius"]
    while hasattr(command, "get_command") and words and not words[0].startswith("-"):
        name = words.pop(0)
        sub = command.get_command(None, name)
        assert sub is not None, f"README shows `{' '.join([*path, name])}`, which the CLI does not have"
        command, path = sub, [*path, name]
    return command, path


def test_readme_shows_commands() -> None:
    assert len(_mentions(README.read_text())) >= 20


def test_every_command_and_option_readme_shows_exists() -> None:
    for mention in _mentions(README.read_text()):
        words = [w.strip("[]|,") for w in mention.split()]
        command, path = _resolve([w for w in words if w])
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for word in words:
            option = word.split("=")[0]
            if option.startswith("--") and option != "--help":
                assert option in options, f"README shows `{' '.join(path)} {option}`, which does not exist"
