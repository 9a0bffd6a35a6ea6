"""`mobius ask --stream` against `mobius dev`: the answer is printed as it arrives, then its route."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import MOBIUS, local_mode_env, processes_under, start_dev


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return local_mode_env(tmp_path / "state")


def _ask_streaming(env: dict[str, str], question: str) -> tuple[str, str, float, float]:
    """stdout, stderr, seconds to its first byte of stdout and to its exit."""
    started = time.monotonic()
    ask = subprocess.Popen(
        [MOBIUS, "ask", question, "--tier", "pro", "--stream"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert ask.stdout is not None and ask.stderr is not None
    first = os.read(ask.stdout.fileno(), 1)  # blocks until the first piece is printed
    first_at = time.monotonic() - started
    rest, err = ask.communicate(timeout=120)
    assert ask.returncode == 0, err.decode()
    return (first + rest).decode(), err.decode(), first_at, time.monotonic() - started


def test_ask_stream_prints_the_answer_as_it_arrives(env: dict[str, str], tmp_path: Path) -> None:
    dev, _ = start_dev(env)
    try:
        # A reasoning answer from the smart group streams for seconds at the simulated models' pace.
        question = (
            "Two trains 300 km apart leave at 9:00 toward each other at 70 and 80 km/h. When do they meet?"
        )
        out, err, first_s, done_s = _ask_streaming(env, question)
        assert "(simulated)" in out and "Two trains 300 km apart" in out
        assert re.search(r"smart / \S+, \d+ ms, \$\d+\.\d+", err), err
        assert done_s - first_s > 1.0, (first_s, done_s)  # printed well before the answer was whole
        dev.send_signal(signal.SIGINT)
        dev.communicate(timeout=120)
    finally:
        if dev.poll() is None:
            dev.kill()
    assert processes_under(tmp_path / "state") == []
