"""`mobius dev`: the whole local pipeline in the foreground, logs interleaved and labeled.

Kafka, Redis and (with no provider keys) the provider simulator start as `mobius up` starts them;
one worker and the sink run as children whose output is printed line by line with a label, as is
the simulator's log. Ctrl-C (or SIGTERM) stops the children, then whatever this command started.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.console import Console

from mobius.fleet import MOBIUS, child_env
from mobius.settings import MobiusSettings
from mobius.stack import LocalStack

CHILDREN = (("worker", ("worker",)), ("sink", ("sink",)))


def run_dev(settings: MobiusSettings, console: Console) -> None:
    stack = LocalStack(settings)
    started = stack.up()
    lock = threading.Lock()
    children: list[subprocess.Popen[str]] = []
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for label, args in CHILDREN:
            child = subprocess.Popen(  # noqa: S603 - our own console script
                [MOBIUS, *args],
                env=child_env(settings),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            children.append(child)
            _echo(label, child.stdout, console, lock)
        if stack.simulator is not None:
            _tail(stack.simulator.process.log_file, "simulator", console, lock, stop)
        with lock:
            console.print(
                f"[bold green]ready[/]: {', '.join(stack.describe())}; worker pid {children[0].pid}, "
                f'sink pid {children[1].pid}. Ask with: mobius ask "What is the capital of France?" '
                "--user u1 --tier pro. Ctrl-C stops everything."
            )
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.is_set() and all(child.poll() is None for child in children):
                time.sleep(0.2)
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, previous)
        _stop_all(children)
        stack.down(only=started)
        console.print("stopped: worker, sink" + (f", {', '.join(started)}" if started else ""))


def _echo(label: str, stream: IO[str] | None, console: Console, lock: threading.Lock) -> None:
    def pump() -> None:
        for line in stream or ():
            with lock:
                console.print(f"[cyan]{label:>9}[/] | {line.rstrip()}", markup=True, highlight=False)

    threading.Thread(target=pump, daemon=True, name=f"dev-{label}").start()


def _tail(path: Path, label: str, console: Console, lock: threading.Lock, stop: threading.Event) -> None:
    def follow() -> None:
        with _opened(path) as handle:
            handle.seek(0, 2)
            while not stop.is_set():
                line = handle.readline()
                if not line:
                    time.sleep(0.2)
                    continue
                with lock:
                    console.print(f"[cyan]{label:>9}[/] | {line.rstrip()}", markup=True, highlight=False)

    threading.Thread(target=follow, daemon=True, name=f"dev-{label}").start()


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    with path.open(errors="replace") as handle:
        yield handle


def _stop_all(children: list[subprocess.Popen[str]]) -> None:
    """SIGTERM each child's process group, then SIGKILL what is left after 30 s."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
