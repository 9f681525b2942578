"""Structured logging: JSON lines, run id on every line (threads too), secrets redacted."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from core.log import JsonFormatter, bind_run, copy_context, redact, register_secret


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_with_fields_and_run_id(capture) -> None:
    logger, stream = capture
    with bind_run("01RUN"):
        logger.info("asset extracted", extra={"space": "SALES", "asset": "V_ORDERS"})
    logger.info("outside")
    first, second = lines(stream)
    assert first["msg"] == "asset extracted" and first["run_id"] == "01RUN"
    assert first["space"] == "SALES" and first["level"] == "info"
    assert "run_id" not in second


def test_run_id_reaches_worker_threads(capture) -> None:
    logger, stream = capture
    with bind_run("01THREAD"):
        runner = copy_context()
        t = threading.Thread(target=runner, args=(logger.info, "in a thread"))
        t.start()
        t.join()
    assert lines(stream)[0]["run_id"] == "01THREAD"


def test_secret_fields_and_values_are_masked(capture) -> None:
    logger, stream = capture
    register_secret("sUp3r-s3cret-value")
    logger.info(
        "token request failed for sUp3r-s3cret-value",
        extra={"client_secret": "abc", "headers": {"Authorization": "Bearer eyJhbGciOi"}, "url": "x?code=123&a=1"},
    )
    line = stream.getvalue()
    assert "sUp3r-s3cret-value" not in line
    assert "eyJhbGciOi" not in line
    body = lines(stream)[0]
    assert body["client_secret"] == "***"
    assert body["url"] == "x?code=***&a=1"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("Authorization: Basic ZGdzeW5jOnNlY3JldA==", "ZGdzeW5jOnNlY3JldA=="),
        ("grant_type=refresh_token&refresh_token=rt-123", "rt-123"),
        ('{"access_token": "tok-9"}', "tok-9"),
        ("aws_secret_access_key = AKIAXYZ", "AKIAXYZ"),
    ],
)
def test_redact_free_text(text: str, leak: str) -> None:
    assert leak not in redact(text)
