"""``python -m wolf_fastapi``: jobs run in worker processes by default (``--job-executor``),
and dgsync's logging is installed before the app is built (the MCP mount's Rich handler at
INFO logged every httpx request of an extraction, in the server process)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.job_process import ProcessExecutor
from core.jobs import ThreadExecutor


def _serve(monkeypatch: pytest.MonkeyPatch, *argv: str) -> Any:
    import uvicorn

    from wolf_fastapi.__main__ import main

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    main(list(argv))
    return served["app"]


@pytest.mark.parametrize(("argv", "executor"), [((), ProcessExecutor), (("--job-executor", "thread"), ThreadExecutor)])
def test_jobs_run_in_a_worker_process_unless_asked_otherwise(
        state_env: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], executor: type) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # restored after the test
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(logging.getLogger("httpx"), "level", logging.NOTSET)
    app = _serve(monkeypatch, "--port", "8765", *argv)
    with TestClient(app):
        assert type(app.state.jobs.executor) is executor
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert [type(h).__name__ for h in root.handlers] == ["StreamHandler"]


def test_a_bad_job_executor_is_refused(state_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _serve(monkeypatch, "--job-executor", "fork")
    assert exit_info.value.code == 2
