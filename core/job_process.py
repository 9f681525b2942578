"""Run each job in its own worker process: :class:`ProcessExecutor` (what ``python -m
wolf_fastapi`` uses) and the worker, ``python -m core.job_process JOB_ID``.

Why: a sync is CPU-heavy Python (parsing CSN, mapping, hashing, boto3); run as a thread of the
web process it holds the GIL most of the time and every read request waits behind it (measured
with benchmarks/wolf_read_bench.py: docs/benchmarks.md). In its own process it competes for the
CPU under the operating system's scheduler instead.

The worker loads the settings from the same environment (it inherits the web process's), runs
the queued job through :meth:`core.jobs.JobService.run` (claim, progress, heartbeat, result: all
in the state store, which every reader already uses) and exits. ``SIGTERM`` asks it to stop
after the objects in flight (:meth:`JobService.request_stop`), as a web server's shutdown does
for a thread. A worker that dies is a job without heartbeat: :class:`JobService` reports it
stale like any other.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.log import configure_logging, get_logger

if TYPE_CHECKING:
    from core.jobs import Job, JobService

log = get_logger(__name__)

#: How much a job worker lowers its priority (``os.nice``): reads before background work.
DEFAULT_NICE = 10


class ProcessExecutor:
    """One ``python -m core.job_process JOB_ID`` child per job (``core.jobs.JobExecutor``).

    ``env``: the child's environment (default: this process's, so it loads the same settings);
    ``command``: the program to start (tests), ``--nice N JOB_ID`` appended; ``nice``: the
    worker lowers its scheduling priority by this much, so that on a busy machine the web
    server gets the CPU first and the job what is left (0: the same priority).
    """

    name = "process"

    def __init__(
        self, *, env: dict[str, str] | None = None, command: Sequence[str] | None = None, nice: int = DEFAULT_NICE,
    ) -> None:
        self.env = env
        self.nice = nice
        self.command = list(command) if command else [sys.executable, "-m", "core.job_process"]
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def dispatch(self, service: JobService, job: Job) -> None:
        child = subprocess.Popen([*self.command, "--nice", str(self.nice), job.id], env=self.env if self.env is not None else dict(os.environ))
        with self._lock:
            self._children = {k: p for k, p in self._children.items() if p.poll() is None}
            self._children[job.id] = child
        log.info("job started in a worker process", extra={"job": job.id, "pid": child.pid})

    def wait(self, job_id: str, timeout: float) -> bool:
        """Wait for a job's worker (tests); whether it ended."""
        with self._lock:
            child = self._children.get(job_id)
        if child is None:
            return True
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """SIGTERM every running worker (it stops after the objects in flight), wait, then kill."""
        with self._lock:
            children = [p for p in self._children.values() if p.poll() is None]
        for child in children:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("job worker did not stop in time; killed", extra={"pid": child.pid})
                child.kill()
                child.wait()


def work(job_id: str, *, nice: int = 0) -> int:
    """Run one queued job in this process (``nice``: lower its priority first); 0 when it
    ended, whatever its status."""
    if nice > 0:
        os.nice(nice)
    from core.jobs import InlineExecutor, JobService
    from core.services import build_services
    from core.settings import load_settings

    settings = load_settings()
    configure_logging(level=settings.log_level, json_format=settings.json_logs)
    services = build_services(settings)
    service = JobService(services, InlineExecutor())

    def stop(signum: int, frame: Any) -> None:
        service.request_stop()

    signal.signal(signal.SIGTERM, stop)
    try:
        job = service.run(job_id)
        log.info("job worker done", extra={"job": job_id, "status": job.status.value})
        return 0
    finally:
        services.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m core.job_process [--nice N] JOB_ID``; 2 (and the usage) on bad arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    nice = 0
    if len(args) == 3 and args[0] == "--nice" and args[1].isdigit():
        nice, args = int(args[1]), args[2:]
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m core.job_process [--nice N] JOB_ID (started by Wolf's job executor)",
              file=sys.stderr)
        return 2
    return work(args[0], nice=nice)


if __name__ == "__main__":
    sys.exit(main())
