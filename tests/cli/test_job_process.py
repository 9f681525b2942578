"""core/job_process.py: a job run by ``ProcessExecutor`` runs in its own worker process
(``python -m core.job_process JOB_ID``) against the emulator and moto_server (separate
processes), its progress and result land in the shared store, and SIGTERM (a server's
shutdown) makes the worker stop the sync and end the job instead of dying with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import separate_systems

from core.job_process import ProcessExecutor, main
from core.jobs import Job, JobKind, JobScope, JobService, JobStatus
from core.services import build_services
from core.settings import load_settings
from core.sync.liveness import Owner

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def systems() -> Iterator[dict[str, Any]]:
    with separate_systems() as found:
        yield found


@pytest.fixture
def env(systems: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The same DGSYNC_* settings in this process (the web side) and the worker's env."""
    for key in [k for k in os.environ if k.startswith("DGSYNC_")]:
        monkeypatch.delenv(key)
    values = {
        "DGSYNC_ENV": "wolf",
        "DGSYNC_DATASPHERE__BASE_URL": systems["emulator"],
        "DGSYNC_DATASPHERE__TOKEN_URL": systems["emulator"] + "/oauth/token",
        "DGSYNC_DATASPHERE__CLIENT_ID": "dgsync-demo",
        "DGSYNC_DATASPHERE__CLIENT_SECRET": "dgsync-demo-secret",
        "DGSYNC_GLUE__ENDPOINT_URL": systems["glue"],
        "DGSYNC_GLUE__CALLS_PER_SECOND": "20",
        "DGSYNC_GLUE__BURST": "1",
        "DGSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "DGSYNC_STATE_DIR": str(tmp_path / "state"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    full = dict(os.environ)
    subprocess.run([str(BIN / "dgsync"), "db", "upgrade"], env=full, check=True, capture_output=True, timeout=120)
    return full


@pytest.fixture
def jobs(env: dict[str, str]) -> Iterator[tuple[JobService, ProcessExecutor]]:
    services = build_services(load_settings())
    executor = ProcessExecutor(env=env)
    try:
        yield JobService(services, executor), executor
    finally:
        executor.shutdown(30)
        services.close()


def _wait_status(service: JobService, job_id: str, wanted: set[JobStatus], timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = service.get(job_id)
        if job.status in wanted:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {wanted}: {service.get(job_id)}")


def test_a_plan_job_runs_in_a_worker_process_and_its_result_is_in_the_store(
        jobs: tuple[JobService, ProcessExecutor]) -> None:
    service, executor = jobs
    job = service.submit(JobKind.PLAN, JobScope(), "tester")
    assert job.status is JobStatus.QUEUED
    assert job.executor == "process"
    assert executor.wait(job.id, 180)
    done = service.get(job.id)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.result is not None and done.phase is not None
    # The worker that claimed it was another process (its pid is in the claim).
    from core.store import jobs as repo

    with service.store.session(readonly=True) as session:
        record = repo.get_job(session=session, job_id=job.id)
    assert record is not None and record.worker is not None
    owner = Owner.parse(record.worker)
    assert owner is not None and owner.pid != os.getpid()
    child = executor._children[job.id]
    assert child.returncode == 0
    assert child.args[-3:] == ["--nice", "10", job.id]  # the worker runs below the web server's priority


def test_sigterm_stops_the_sync_of_a_worker_and_ends_its_job(jobs: tuple[JobService, ProcessExecutor]) -> None:
    service, executor = jobs
    job = service.submit(JobKind.SYNC, JobScope(), "tester")
    _wait_status(service, job.id, {JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED})
    executor.shutdown(120)
    child = executor._children[job.id]
    assert child.returncode == 0  # handled SIGTERM (stopped after the objects in flight), not killed by it
    ended = service.get(job.id)
    assert ended.status is not JobStatus.RUNNING and ended.status is not JobStatus.QUEUED
    assert ended.finished_at is not None


def test_the_worker_without_a_job_id_says_how_it_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ([], ["--nice", "x", "01ABC"], ["--nice", "5"]):
        assert main(bad) == 2
        assert "python -m core.job_process [--nice N] JOB_ID" in capsys.readouterr().err
