"""A scriptable fake tenant over ``httpx.MockTransport`` for unit tests (no sockets)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from core.settings import DatasphereSettings

BASE = "https://acme.eu10.hcs.cloud.sap"
TOKEN_URL = "https://acme.authentication.eu10.hana.ondemand.com/oauth/token"
SECRET = "s3cr3t-client-value"

Handler = Callable[[httpx.Request], httpx.Response]


def settings(**overrides: Any) -> DatasphereSettings:
    values: dict[str, Any] = {
        "base_url": BASE,
        "token_url": TOKEN_URL,
        "client_id": "sb-dgsync!t1",
        "client_secret": SecretStr(SECRET),
        "max_retries": 3,
        "max_backoff_s": 8.0,
    }
    values.update(overrides)
    return DatasphereSettings(**values)


def token_response(n: int = 1, expires_in: int | None = 3600, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "access_token": f"tok-{n}",
        "token_type": "bearer",
        "scope": "uaa.resource",
    }
    if expires_in is not None:
        body["expires_in"] = expires_in
    body.update(extra)
    return httpx.Response(200, json=body)


@dataclass
class FakeTenant:
    """Routes by path; records every request. ``api`` handles everything but the token URL."""

    api: Handler = field(default=lambda r: httpx.Response(200, json={}))
    token: Handler | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    token_requests: list[httpx.Request] = field(default_factory=list)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(TOKEN_URL):
            with self.lock:
                self.token_requests.append(request)
                self.issued += 1
                n = self.issued
            if self.token is not None:
                return self.token(request)
            return token_response(n)
        with self.lock:
            self.requests.append(request)
        return self.api(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def bearer_tokens(self) -> list[str]:
        return [r.headers.get("authorization", "") for r in self.requests]


class Sleeps:
    """A recording ``sleep`` so retry tests never wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
