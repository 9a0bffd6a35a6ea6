import shutil
from pathlib import Path

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
