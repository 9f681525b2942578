"""`check_connection` diagnoses and the `dgsync login` flow, against the emulator over HTTP."""

from __future__ import annotations

import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from core.datasphere.auth import Diagnosis, TokenManager, diagnosis_of
from core.datasphere.check import check_connection
from core.datasphere.login import login
from core.errors import AuthError, ConfigError
from core.settings import DatasphereSettings, EmulatorSettings
from doubles.emulator.server import RunningEmulator, start_in_thread


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorSettings()) as running:
        yield running


def _settings(
    emu: RunningEmulator, client_id: str = "dgsync-demo", **overrides: Any
) -> DatasphereSettings:
    values: dict[str, Any] = {
        "base_url": emu.base_url,
        "token_url": emu.token_url,
        "authorize_url": emu.authorize_url,
        "client_id": client_id,
        "client_secret": SecretStr(emu.clients[client_id].client_secret),
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return DatasphereSettings(**values)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- check ----------------------------------------------------------------------------------------


def test_check_reports_token_catalog_and_every_space(emu: RunningEmulator) -> None:
    report = check_connection(_settings(emu))
    assert report.ok
    assert report.token.ok and report.token.latency_ms is not None
    assert "client_credentials" in report.token.detail
    assert report.catalog is not None and report.catalog.ok
    assert report.catalog.detail == f"{len(emu.tenant.visible_spaces())} space(s)"
    assert {s.space for s in report.spaces} == {s.name for s in emu.tenant.visible_spaces()}
    assert all(s.ok and s.latency_ms is not None for s in report.spaces)


def test_check_diagnoses_bad_credentials(emu: RunningEmulator) -> None:
    report = check_connection(_settings(emu, client_secret=SecretStr("wrong-secret")))
    assert not report.ok
    assert report.token.diagnosis == Diagnosis.BAD_CREDENTIALS
    assert report.token.explanation and "bad credentials" in report.token.explanation
    assert report.catalog is None
    assert "wrong-secret" not in report.model_dump_json()


def test_check_diagnoses_wrong_token_url(emu: RunningEmulator) -> None:
    report = check_connection(_settings(emu, token_url=f"{emu.base_url}/uaa/oauth/token"))
    assert report.token.diagnosis == Diagnosis.WRONG_TOKEN_URL


def test_check_diagnoses_unreachable_host(emu: RunningEmulator) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    report = check_connection(_settings(emu, base_url=dead, token_url=f"{dead}/oauth/token"))
    assert report.token.diagnosis == Diagnosis.UNREACHABLE
    assert "connection refused" in report.token.detail


def test_check_diagnoses_not_a_member(emu: RunningEmulator) -> None:
    report = check_connection(_settings(emu, "dgsync-restricted"))
    assert not report.ok
    failed = {s.space: s for s in report.spaces if not s.ok}
    assert set(failed) == {"HR"}
    assert failed["HR"].diagnosis == Diagnosis.NOT_A_MEMBER
    assert report.diagnoses == [Diagnosis.NOT_A_MEMBER.value]


def test_check_diagnoses_html_login_page(emu: RunningEmulator) -> None:
    httpx.post(
        f"{emu.admin_url}/faults", json={"html_login": {"count": 2}}, timeout=5
    ).raise_for_status()
    report = check_connection(_settings(emu))
    assert report.token.ok
    assert report.catalog is not None and report.catalog.diagnosis == Diagnosis.HTML_LOGIN_PAGE


# -- login ----------------------------------------------------------------------------------------


def _approve_in_background(url: str) -> bool:
    """Stand-in for the browser: the emulator approves at once and redirects to the loopback."""

    def run() -> None:
        with httpx.Client(follow_redirects=True, timeout=10) as browser:
            browser.get(url + "&auto_approve=true")

    threading.Thread(target=run, daemon=True).start()
    return True


def test_login_stores_refresh_token_and_later_runs_refresh_from_it(
    emu: RunningEmulator, tmp_path: Path
) -> None:
    cache = tmp_path / "state" / "token.json"
    settings = _settings(
        emu,
        "dgsync-interactive",
        grant="authorization_code",
        redirect_uri=f"http://127.0.0.1:{_free_port()}/callback",
        token_cache=cache,
    )
    printed: list[str] = []
    result = login(settings, open_browser=_approve_in_background, echo=printed.append, timeout_s=10)
    assert result.token_cache == cache
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert printed and urlsplit(printed[0].splitlines()[-1]).path == "/oauth/authorize"

    with httpx.Client(timeout=5) as http:
        later = TokenManager(settings, http)
        assert later.access_token()
        assert later.requests == 1  # a refresh_token grant, no browser

        # the refresh token expires (e.g. after 30 days): the message says what to do
        httpx.post(
            f"{emu.admin_url}/faults", json={"expire_refresh_tokens": True}, timeout=5
        ).raise_for_status()
        again = TokenManager(settings, http)
        with pytest.raises(AuthError) as info:
            again.access_token()
        assert diagnosis_of(info.value) is Diagnosis.EXPIRED_REFRESH_TOKEN
        assert "dgsync login" in info.value.hint


def test_login_refuses_a_redirect_with_a_wrong_state(emu: RunningEmulator, tmp_path: Path) -> None:
    port = _free_port()
    settings = _settings(
        emu,
        "dgsync-interactive",
        redirect_uri=f"http://127.0.0.1:{port}/",
        token_cache=tmp_path / "t.json",
    )

    def forged(url: str) -> bool:
        def run() -> None:
            httpx.get(f"http://127.0.0.1:{port}/?code=stolen&state=forged", timeout=5)

        threading.Thread(target=run, daemon=True).start()
        return True

    with pytest.raises(AuthError, match="wrong state"):
        login(settings, open_browser=forged, echo=lambda _: None, timeout_s=10)
    assert not (tmp_path / "t.json").exists()


def test_login_times_out_without_a_redirect(emu: RunningEmulator, tmp_path: Path) -> None:
    settings = _settings(
        emu, "dgsync-interactive", redirect_uri=f"http://127.0.0.1:{_free_port()}/"
    )
    with pytest.raises(AuthError, match="no login redirect"):
        login(settings, open_browser=None, echo=lambda _: None, timeout_s=0.2)


def test_login_needs_a_loopback_redirect_uri(emu: RunningEmulator) -> None:
    settings = _settings(emu, "dgsync-interactive", redirect_uri="https://example.com/callback")
    with pytest.raises(ConfigError, match="loopback"):
        login(settings, open_browser=None, echo=lambda _: None, timeout_s=0.2)
