"""TokenManager: grants, proactive refresh, no stampede, error diagnosis, token cache."""

from __future__ import annotations

import base64
import json
import stat
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.datasphere.auth import Diagnosis, TokenManager, diagnosis_of
from core.errors import AuthError, SourceUnavailable
from core.log import redact

from .fakes import SECRET, TOKEN_URL, Clock, FakeTenant, Sleeps, settings, token_response


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_client_credentials_uses_basic_auth_and_form_grant() -> None:
    fake = FakeTenant()
    tm = TokenManager(settings(), fake.client())
    assert tm.access_token() == "tok-1"
    (req,) = fake.token_requests
    assert req.method == "POST"
    assert _form(req) == {"grant_type": "client_credentials"}
    user, _, password = (
        base64.b64decode(req.headers["authorization"].split()[1]).decode().partition(":")
    )
    assert (user, password) == ("sb-dgsync!t1", SECRET)


def test_token_reused_until_refresh_margin_then_refreshed() -> None:
    fake = FakeTenant()
    clock = Clock()
    tm = TokenManager(settings(refresh_margin_s=10), fake.client(), clock=clock)
    assert tm.access_token() == "tok-1"
    clock.now += 3589  # 11 s before expiry
    assert tm.access_token() == "tok-1"
    clock.now += 2  # 9 s before expiry: inside the margin
    assert tm.access_token() == "tok-2"
    assert len(fake.token_requests) == 2


def test_short_lived_token_is_not_refreshed_on_every_call() -> None:
    fake = FakeTenant(token=lambda r: token_response(1, expires_in=4))
    clock = Clock()
    tm = TokenManager(settings(refresh_margin_s=10), fake.client(), clock=clock)
    tm.access_token()
    clock.now += 1
    tm.access_token()
    assert len(fake.token_requests) == 1
    clock.now += 2  # past half its life
    tm.access_token()
    assert len(fake.token_requests) == 2


def test_token_without_expires_in_lives_until_invalidated() -> None:
    fake = FakeTenant(token=lambda r: token_response(1, expires_in=None))
    clock = Clock()
    tm = TokenManager(settings(), fake.client(), clock=clock)
    tm.access_token()
    clock.now += 10**6
    tm.access_token()
    assert len(fake.token_requests) == 1
    tm.invalidate()
    tm.access_token()
    assert len(fake.token_requests) == 2


def test_twenty_threads_cause_one_token_request() -> None:
    def slow_token(request: httpx.Request) -> httpx.Response:
        time.sleep(0.05)
        return token_response(1)

    fake = FakeTenant(token=slow_token)
    tm = TokenManager(settings(), fake.client())
    barrier = threading.Barrier(20)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        results.append(tm.access_token())

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["tok-1"] * 20
    assert len(fake.token_requests) == 1


def test_invalidate_only_drops_the_token_that_failed() -> None:
    fake = FakeTenant()
    tm = TokenManager(settings(), fake.client())
    old = tm.access_token()
    tm.invalidate(old)
    new = tm.access_token()
    assert new != old
    tm.invalidate(old)  # a late thread reporting the old token changes nothing
    assert tm.access_token() == new
    assert len(fake.token_requests) == 2


@pytest.mark.parametrize(
    ("response", "error", "diagnosis", "fragment"),
    [
        (
            httpx.Response(
                401, json={"error": "invalid_client", "error_description": "Bad credentials"}
            ),
            AuthError,
            Diagnosis.BAD_CREDENTIALS,
            "bad credentials",
        ),
        (
            httpx.Response(404, text="Not Found"),
            AuthError,
            Diagnosis.WRONG_TOKEN_URL,
            "wrong token URL",
        ),
        (
            httpx.Response(404, html="<html><body>Not here</body></html>"),
            AuthError,
            Diagnosis.WRONG_TOKEN_URL,
            "HTML page",
        ),
        (
            httpx.Response(200, html="<html><form>Sign in</form></html>"),
            AuthError,
            Diagnosis.HTML_LOGIN_PAGE,
            "HTML page",
        ),
        (
            httpx.Response(200, json={"hello": "world"}),
            AuthError,
            Diagnosis.WRONG_TOKEN_URL,
            "without an access token",
        ),
        (
            httpx.Response(503, text="down"),
            SourceUnavailable,
            Diagnosis.SERVER_ERROR,
            "failed with 503",
        ),
    ],
)
def test_token_endpoint_failures_are_diagnosed(
    response: httpx.Response, error: type[Exception], diagnosis: Diagnosis, fragment: str
) -> None:
    fake = FakeTenant(token=lambda r: response)
    tm = TokenManager(settings(), fake.client(), sleep=Sleeps())
    with pytest.raises(error) as info:
        tm.access_token()
    assert diagnosis_of(info.value) is diagnosis
    assert fragment in str(info.value)
    assert SECRET not in str(info.value)


def test_unreachable_token_url_is_source_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    tm = TokenManager(settings(), httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(SourceUnavailable) as info:
        tm.access_token()
    assert diagnosis_of(info.value) is Diagnosis.UNREACHABLE
    assert "connection refused" in str(info.value)
    assert "TOKEN_URL" in info.value.hint


def test_token_endpoint_throttling_is_retried() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "1"}), token_response(7)])
    fake = FakeTenant(token=lambda r: next(answers))
    sleeps = Sleeps()
    tm = TokenManager(settings(), fake.client(), sleep=sleeps)
    assert tm.access_token() == "tok-7"
    assert sleeps.calls == [1.0]


def test_secrets_are_registered_for_redaction() -> None:
    fake = FakeTenant()
    tm = TokenManager(settings(), fake.client())
    token = tm.access_token()
    assert SECRET not in redact(f"secret is {SECRET}")
    assert token not in redact(f"the token {token} leaked")


# -- authorization code + refresh token ---------------------------------------------------------


def _interactive(tmp_path: Path, *, http: httpx.Client) -> TokenManager:
    return TokenManager(
        settings(grant="authorization_code", token_cache=tmp_path / "cache" / "token.json"), http
    )


def test_interactive_without_login_asks_for_dgsync_login(tmp_path: Path) -> None:
    tm = _interactive(tmp_path, http=FakeTenant().client())
    with pytest.raises(AuthError) as info:
        tm.access_token()
    assert diagnosis_of(info.value) is Diagnosis.NO_REFRESH_TOKEN
    assert "dgsync login" in info.value.hint


def test_code_exchange_persists_refresh_token_with_mode_0600(tmp_path: Path) -> None:
    def token(request: httpx.Request) -> httpx.Response:
        form = _form(request)
        if form["grant_type"] == "authorization_code":
            assert form["code"] == "the-code"
            assert form["redirect_uri"] == "http://localhost:8080/"
            return token_response(1, refresh_token="refresh-1")
        assert form == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}
        return token_response(2, refresh_token="refresh-2")  # rotated

    fake = FakeTenant(token=token)
    tm = _interactive(tmp_path, http=fake.client())
    got = tm.exchange_code("the-code")
    assert got.access_token == "tok-1"
    cache = tmp_path / "cache" / "token.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["refresh_token"] == "refresh-1"

    # a later run: a new manager refreshes from the cache and keeps the rotated token
    later = _interactive(tmp_path, http=fake.client())
    assert later.access_token() == "tok-2"
    assert json.loads(cache.read_text())["refresh_token"] == "refresh-2"


def test_expired_refresh_token_says_run_dgsync_login(tmp_path: Path) -> None:
    fake = FakeTenant(
        token=lambda r: httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "expired"}
        )
    )
    tm = _interactive(tmp_path, http=fake.client())
    tm.save_refresh_token("old-refresh")
    with pytest.raises(AuthError) as info:
        tm.access_token()
    assert diagnosis_of(info.value) is Diagnosis.EXPIRED_REFRESH_TOKEN
    assert "dgsync login" in info.value.hint


def test_authorize_url_is_derived_from_token_url() -> None:
    tm = TokenManager(settings(grant="authorization_code"), FakeTenant().client())
    url = urlsplit(tm.authorize_url(state="xyz"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == TOKEN_URL.replace("/token", "/authorize")
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": ["sb-dgsync!t1"],
        "redirect_uri": ["http://localhost:8080/"],
        "state": ["xyz"],
    }


def test_state_tells_age_expiry_refreshes_and_the_last_error_never_the_token() -> None:
    refuse = {"now": False}

    def token(request: httpx.Request) -> httpx.Response:
        if refuse["now"]:
            return httpx.Response(401, json={"error": "invalid_client", "error_description": "Bad credentials"})
        return token_response(len(fake.token_requests), expires_in=100)

    fake = FakeTenant(token=token)
    clock = Clock()
    tm = TokenManager(settings(refresh_margin_s=10), fake.client(), clock=clock)
    empty = tm.state()
    assert (empty.held, empty.age_s, empty.tokens_obtained, empty.last_error) == (False, None, 0, None)
    tm.access_token()
    clock.now += 30
    state = tm.state()
    assert state.held and state.age_s == pytest.approx(30)
    assert state.expires_in_s == 100 and state.remaining_s == pytest.approx(70)
    assert state.refresh_in_s == pytest.approx(60)
    assert (state.tokens_obtained, state.refreshes, state.token_requests) == (1, 0, 1)
    tm.invalidate()
    tm.access_token()
    assert (tm.state().tokens_obtained, tm.state().refreshes, tm.state().invalidations) == (2, 1, 1)
    refuse["now"] = True
    tm.invalidate()
    with pytest.raises(AuthError):
        tm.access_token()
    clock.now += 5
    failed = tm.state()
    assert failed.last_error is not None and "bad credentials" in failed.last_error
    assert failed.last_error_diagnosis == "bad_credentials" and failed.last_error_age_s == pytest.approx(5)
    assert failed.tokens_obtained == 2 and not failed.held
    assert "tok-" not in repr(failed)
