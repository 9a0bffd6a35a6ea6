"""README's "Try it by hand", word for word: up, a worker, ask, down; no variable set by hand."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import MOBIUS, local_mode_env, processes_under, start_dev

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands() -> list[str]:
    section = README.read_text().split("## Try it by hand", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return local_mode_env(tmp_path / "state")


def test_the_readme_section_runs_as_written(env: dict[str, str], tmp_path: Path) -> None:
    commands = _commands()
    assert [c.split()[1] for c in commands] == ["up", "worker", "ask", "down"]
    background: list[subprocess.Popen[str]] = []
    outputs = []
    try:
        for command in commands:
            words = shlex.split(command.removesuffix("&").strip())
            assert words[0] == ".venv/bin/mobius"
            args = [MOBIUS, *words[1:]]
            if command.endswith("&"):
                background.append(subprocess.Popen(args, env=env, text=True, stdout=subprocess.DEVNULL))
                continue
            done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
            assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
            outputs.append(done)
    finally:
        for process in background:
            if process.poll() is None:
                process.kill()
    up, ask, down = outputs
    assert "simulator" in up.stdout  # local mode: the simulator started and shows in the status
    assert "capital of France" in ask.stdout and "(simulated)" in ask.stdout
    routed = re.search(r"(\w[\w-]*) / (\S+), (\d+) ms, \$(\d+\.\d+)", ask.stderr)
    assert routed is not None, ask.stderr
    assert routed.group(1) == "fast" and float(routed.group(4)) > 0
    assert "worker" in down.stdout and "simulator" in down.stdout
    assert background[0].wait(timeout=30) is not None  # `down` stopped the worker too
    assert processes_under(tmp_path / "state") == []


def test_a_worker_with_neither_keys_nor_simulator_refuses_in_one_line(env: dict[str, str]) -> None:
    done = subprocess.run(
        [MOBIUS, "worker"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert "no provider keys are set" in done.stderr and "mobius up" in done.stderr
    assert "Traceback" not in done.stderr


def test_mobius_dev_runs_everything_in_the_foreground_and_ctrl_c_stops_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    dev, lines = start_dev(env)
    try:
        ask = subprocess.run(
            [MOBIUS, "ask", "Write a bash script that counts lines in every .py file", "--tier", "pro"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ask.returncode == 0, ask.stderr
        assert "code / " in ask.stderr  # the code group answered, through the simulator
        dev.send_signal(signal.SIGINT)
        rest, _ = dev.communicate(timeout=120)
    finally:
        if dev.poll() is None:
            dev.kill()
    log = "".join(lines) + rest
    assert dev.returncode == 0, log[-3000:]
    assert "   worker |" in log and "stopped:" in log
    assert processes_under(tmp_path / "state") == []
