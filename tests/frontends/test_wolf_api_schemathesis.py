"""Schemathesis over Wolf's ``/openapi.json``: every operation is called in-process (ASGI) with
generated valid and invalid inputs and the bearer key, and every answer must match the
document — status code declared, body valid against its model, the error envelope for errors,
never a 500. Bounded examples keep it well under a minute.

The app is a wolf deployment against this module's emulator and moto server; jobs are queued
but not run (their executor sends them nowhere): this test is about the contract, the job
runs are tested in test_wolf_api_v1.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance

from core.services import build_services
from core.settings import load_settings
from wolf_fastapi.app import create_app

from .conftest import API_TOKEN, migrated_store, own_embedded_services, systems_env

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
REGION = "ca-central-1"


class _Nowhere:
    """A job executor that runs nothing (the jobs stay queued)."""

    name = "contract-test"

    def dispatch(self, service: Any, job: Any) -> None:
        return None

    def shutdown(self, timeout: float = 30.0) -> None:
        return None


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("wolf-schemathesis")
    with own_embedded_services(root / "systems", REGION) as dog, pytest.MonkeyPatch.context() as mp:
        for name in [n for n in __import__("os").environ if n.startswith("DGSYNC_")]:
            mp.delenv(name)
        env = {
            "DGSYNC_ENV": "wolf",
            "DGSYNC_API_TOKEN": API_TOKEN,
            "DGSYNC_WEB__API_KEY_PEPPER": "pepper-Hx4bV8nQ2mZ6tKc0Lw9Ry3Jd7Fs1Ea5G",
            "DGSYNC_STATE_DIR": str(root / "state"),
            "DGSYNC_DATABASE_URL": f"sqlite:///{root / 'state' / 'state.db'}",
            **systems_env(dog),
            # Schemathesis's in-process client sends `Host: testserver`.
            "DGSYNC_WEB__ALLOWED_HOSTS": '["testserver"]',
        }
        for name, value in env.items():
            mp.setenv(name, value)
        wolf = load_settings()
        migrated_store(wolf, migrated_template)
        services = build_services(wolf)
        # Extracted before: the first request would otherwise answer 503 while it runs (that
        # answer is tested in test_wolf_api_v1.py; schemathesis counts every 5xx as a failure).
        services.catalog().snapshot()
        app = create_app(wolf, services=services, job_executor=_Nowhere())
        try:
            yield schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
        finally:
            from schemathesis.python.asgi import shutdown_lifespans

            shutdown_lifespans()
            services.close()


#: Operations that refuse some schema-valid bodies on their content, with the documented 422
#: (a configuration candidate that does not validate: rules with errors, a section that may not
#: change): schemathesis's "valid data is accepted" check does not apply to them.
SEMANTIC_422 = {"POST /api/v1/config/validate", "POST /api/v1/config/apply", "POST /api/v1/config/promote",
                "POST /api/v1/config/rollback"}


class _Semantic422:
    """A case of :data:`SEMANTIC_422` validated without the "valid data is accepted" check."""

    def __init__(self, case: Any) -> None:
        self.case = case

    def call_and_validate(self, **kwargs: Any) -> Any:
        return self.case.call_and_validate(**kwargs, excluded_checks=[positive_data_acceptance])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.case, name)

    def __repr__(self) -> str:
        return repr(self.case)


def _semantic_422_allowed(case: Any) -> Any:
    return _Semantic422(case) if case.operation.label in SEMANTIC_422 else case


def test_every_operation_matches_the_openapi_document(api_schema: Any) -> None:
    # One hypothesis run per operation and mode (schemathesis's pytest loader does not run on
    # this pytest version), every failure collected and reported together.
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode).map(_semantic_422_allowed))
            @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None, phases=[Phase.explicit, Phase.generate])
            def check(case: Any) -> None:
                case.call_and_validate(headers=AUTH)

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is schemathesis.GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as exc:  # collected: every operation gets its turn
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
