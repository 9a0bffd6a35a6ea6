import shutil
from pathlib import Path

import pytest

from infra.errors import ServiceFailedToStart
from infra.procs import ManagedProcess


def test_start_track_and_stop_a_process(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", tmp_path)
    sleep = shutil.which("sleep")
    assert sleep is not None
    pid = proc.start([sleep, "300"])
    assert proc.pid() == pid and proc.is_running()
    assert proc.stop(timeout_s=5)
    assert proc.pid() is None and not proc.pid_file.exists()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert proc.stop() is False


def test_a_pid_file_naming_someone_elses_process_is_ignored(tmp_path: Path) -> None:
    proc = ManagedProcess("ghost", tmp_path)
    proc.pid_file.write_text("1\n")  # init: alive, but not running in our directory
    assert proc.pid() is None
    assert not proc.pid_file.exists()
    assert proc.stop() is False


def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    proc = ManagedProcess("stubborn", tmp_path)
    proc.start(["/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"])
    assert proc.stop(timeout_s=0.5)
    assert proc.pid() is None


def test_waiting_for_a_process_that_exits_reports_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess("quitter", tmp_path)
    proc.start(["/bin/sh", "-c", "echo cannot bind the port; exit 3"])
    with pytest.raises(ServiceFailedToStart, match="quitter exited during start") as failed:
        proc.wait_ready(lambda: False, "quitter", timeout_s=10)
    assert "cannot bind the port" in str(failed.value)


def test_a_process_never_ready_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    proc = ManagedProcess("mute", tmp_path)
    proc.start(["/bin/sh", "-c", "sleep 300"])
    with pytest.raises(ServiceFailedToStart, match="mute was not ready within 1 s"):
        proc.wait_ready(lambda: False, "mute", timeout_s=1)
    assert not proc.is_running()


def test_a_ready_process_is_left_running(tmp_path: Path) -> None:
    proc = ManagedProcess("ready", tmp_path)
    proc.start(["/bin/sh", "-c", "sleep 300"])
    proc.wait_ready(lambda: True, "ready", timeout_s=5)
    assert proc.is_running()
    proc.stop(timeout_s=5)
