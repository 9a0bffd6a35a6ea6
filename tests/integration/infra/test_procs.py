import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
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


def test_the_pid_file_records_the_pid_and_its_start_time(tmp_path: Path) -> None:
    proc = ManagedProcess("recorded", tmp_path)
    pid = proc.start(["/bin/sh", "-c", "sleep 300"])
    try:
        recorded_pid, created = proc.pid_file.read_text().split()
        assert int(recorded_pid) == pid
        assert float(created) == pytest.approx(psutil.Process(pid).create_time(), abs=1e-6)
    finally:
        proc.stop(timeout_s=5)


def test_a_pid_file_naming_someone_elses_process_is_ignored(tmp_path: Path) -> None:
    proc = ManagedProcess("ghost", tmp_path)
    proc.pid_file.write_text("1\n")  # init, in the old format: alive, but not running in our directory
    assert proc.pid() is None
    assert not proc.pid_file.exists()
    assert proc.stop() is False


def test_a_recycled_pid_is_not_ours_and_is_left_alone(tmp_path: Path) -> None:
    # Our process ran and exited; its pid now belongs to a later process. Pids cannot be forced,
    # so the later process is a real one of somebody else's whose pid the file names, with the
    # start time our process had (well before the other one's).
    bystander = subprocess.Popen(["/bin/sh", "-c", "sleep 300"], cwd=tmp_path)
    try:
        proc = ManagedProcess("recycled", tmp_path)  # same directory: the old check would take it
        started = psutil.Process(bystander.pid).create_time()
        proc.pid_file.write_text(f"{bystander.pid} {started - 60!r}\n")
        assert proc.pid() is None and not proc.pid_file.exists()
        assert proc.stop() is False
        assert bystander.poll() is None  # never signalled
    finally:
        bystander.kill()
        bystander.wait()


def test_a_stale_pid_file_of_an_exited_process_is_removed(tmp_path: Path) -> None:
    proc = ManagedProcess("stale", tmp_path)
    pid = proc.start(["/bin/sh", "-c", "exit 0"])
    deadline = time.monotonic() + 10
    while proc.pid() is not None:  # until it has exited (its zombie is not ours either)
        assert time.monotonic() < deadline, "the process did not exit"
        time.sleep(0.05)
    assert not proc.pid_file.exists()
    proc.pid_file.write_text(f"{pid} 12345.6\n")  # and a left-over file for a pid nobody has
    assert proc.is_running() is False and not proc.pid_file.exists()


@pytest.mark.parametrize("garbage", ["", "not a pid\n", "12 34 56\n", "12 yesterday\n"])
def test_an_unreadable_pid_file_is_removed(tmp_path: Path, garbage: str) -> None:
    proc = ManagedProcess("garbled", tmp_path)
    proc.pid_file.write_text(garbage)
    assert proc.pid() is None and not proc.pid_file.exists()


def test_a_process_that_changes_its_directory_is_still_ours(tmp_path: Path) -> None:
    # As the sink does: chDB changes its working directory while it opens the engine.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = f"import os, time; os.chdir({str(elsewhere)!r}); open('moved', 'w').close(); time.sleep(300)"
    proc = ManagedProcess("wanderer", tmp_path / "run")
    pid = proc.start([sys.executable, "-c", script])
    deadline = time.monotonic() + 10
    while not (elsewhere / "moved").exists():
        assert time.monotonic() < deadline, proc.log_tail()
        time.sleep(0.05)
    assert Path(psutil.Process(pid).cwd()) == elsewhere
    assert proc.pid() == pid and proc.is_running()
    assert proc.stop(timeout_s=5)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


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
