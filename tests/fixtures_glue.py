"""Reusable Glue fixtures: moto in server mode over real HTTP, plus the fault layer.

Import them into any area's ``conftest.py``::

    from fixtures_glue import *  # noqa: F403

(``tests/`` is on ``sys.path`` because ``tests/conftest.py`` has no package above it.)

* ``moto_endpoint``   (session) URL of a quiet ``ThreadedMotoServer`` on 127.0.0.1, ephemeral
                      port; shared by the whole session (each xdist worker has its own)
* ``glue_settings``   :class:`GlueSettings` pointed at it (region :data:`GLUE_TEST_REGION`)
* ``boto_glue``       a fresh boto3 Glue client per test: dummy credentials, ``standard``
                      retries, 3 attempts (cheap: built from one shared botocore session)
* ``glue_faults``     :class:`doubles.glue_faults.GlueFaults` installed on ``boto_glue``
                      (pagination honoured, VersionId locking, SkipArchive, fast retries)
* ``glue``            :class:`core.glue.client.GlueClient` over ``boto_glue`` (faults installed)
* ``raw_glue``        (session) a plain boto3 Glue client without hooks, for set-up
* ``unique_name``     factory of unique Glue-valid names (``prefix_<hex>``)
* ``glue_database``   a fresh, empty database created for the test (its name)

Tests share one moto account and region, so use ``unique_name`` / ``glue_database`` instead of
fixed names; never reset moto from a test.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest

from core.glue.client import GlueClient
from core.glue.session import StaticCredentials, make_glue_client
from core.settings import GlueSettings
from doubles.glue_embedded import quiet_moto_server
from doubles.glue_faults import GlueFaults

__all__ = [
    "GLUE_TEST_REGION",
    "TEST_CREDENTIALS",
    "boto_glue",
    "glue",
    "glue_boto_session",
    "glue_database",
    "glue_faults",
    "glue_settings",
    "moto_endpoint",
    "raw_glue",
    "unique_name",
]

GLUE_TEST_REGION = "eu-central-1"
TEST_CREDENTIALS = StaticCredentials(access_key_id="testing", secret_access_key="testing")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server for the whole session, over HTTP on a loopback ephemeral port."""
    server = quiet_moto_server("127.0.0.1", 0)
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def glue_boto_session() -> boto3.Session:
    """One boto3 session with dummy credentials for every per-test client."""
    # One botocore session: its loader caches the Glue service model, so each per-test client
    # costs ~10 ms instead of ~150 ms.
    return boto3.Session(
        botocore_session=botocore.session.get_session(),
        aws_access_key_id=TEST_CREDENTIALS.access_key_id,
        aws_secret_access_key=TEST_CREDENTIALS.secret_access_key,
        region_name=GLUE_TEST_REGION,
    )


@pytest.fixture
def glue_settings(moto_endpoint: str) -> GlueSettings:
    return GlueSettings(region=GLUE_TEST_REGION, endpoint_url=moto_endpoint, max_attempts=3)


@pytest.fixture
def boto_glue(glue_settings: GlueSettings, glue_boto_session: boto3.Session) -> Any:
    return make_glue_client(glue_settings, session=glue_boto_session, retry_mode="standard")


@pytest.fixture
def glue_faults(boto_glue: Any) -> Iterator[GlueFaults]:
    faults = GlueFaults().install(boto_glue)
    yield faults
    faults.uninstall()


@pytest.fixture
def glue(boto_glue: Any, glue_faults: GlueFaults) -> GlueClient:
    return GlueClient(boto_glue)


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    def make(prefix: str = "t") -> str:
        return f"{prefix}_{secrets.token_hex(4)}"

    return make


@pytest.fixture(scope="session")
def raw_glue(moto_endpoint: str, glue_boto_session: boto3.Session) -> Any:
    """A plain boto3 Glue client without hooks, for test set-up that nothing should count."""
    return glue_boto_session.client("glue", endpoint_url=moto_endpoint)


@pytest.fixture
def glue_database(raw_glue: Any, unique_name: Callable[[str], str]) -> Iterator[str]:
    """A new, empty database (created through ``raw_glue``: invisible to every counter)."""
    name = unique_name("db")
    raw_glue.create_database(DatabaseInput={"Name": name})
    yield name
    with contextlib.suppress(raw_glue.exceptions.EntityNotFoundException):
        raw_glue.delete_database(Name=name)
