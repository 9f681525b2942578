"""Emulator parity: shared objects as in the SAP export, a hidden owner space, connections,
and the ``not_offered`` fault (a kind's list answering 404)."""

from __future__ import annotations

import httpx

from doubles.emulator import Tenant, TenantOptions
from doubles.emulator.fixtures import HIDDEN_OWNER, VISIBLE_OWNER

from .conftest import CATALOG

DT = "/dwaas-core/api/v1"
CSN = {"Accept": "application/vnd.sap.datasphere.object.content+json"}
SHARED_VIEW = f"{VISIBLE_OWNER}.3VD_EMPLOYEE_CSRD_ATTR_VIEW"
SHARED_TABLE = f"{HIDDEN_OWNER}.3VF_SALARY"


def test_consumer_lists_shared_objects_under_owner_dot_name(api: httpx.Client) -> None:
    names = {r["technicalName"] for r in api.get(f"{DT}/spaces/DP_SALARY/localtables").json()}
    assert {SHARED_VIEW, SHARED_TABLE} <= names
    doc = api.get(f"{DT}/spaces/DP_SALARY/localtables/{SHARED_VIEW}", headers=CSN).json()
    assert set(doc["definitions"]) == {SHARED_VIEW, VISIBLE_OWNER}
    context = doc["definitions"][VISIBLE_OWNER]
    assert context["kind"] == "context"
    assert context["@DataWarehouse.space.name"] == VISIBLE_OWNER


def test_visible_owner_lists_the_object_under_its_own_name(api: httpx.Client) -> None:
    rows = api.get(f"{DT}/spaces/{VISIBLE_OWNER}/localtables").json()
    assert rows == [{"technicalName": "3VD_EMPLOYEE_CSRD_ATTR_VIEW"}]
    spaces = {s["name"] for s in api.get(f"{CATALOG}/spaces").json()["value"]}
    assert VISIBLE_OWNER in spaces


def test_hidden_owner_is_not_in_the_catalog_and_answers_403(api: httpx.Client) -> None:
    spaces = {s["name"] for s in api.get(f"{CATALOG}/spaces").json()["value"]}
    assert HIDDEN_OWNER not in spaces
    assert api.get(f"{CATALOG}/spaces('{HIDDEN_OWNER}')").status_code == 404
    assert api.get(f"{DT}/spaces/{HIDDEN_OWNER}/localtables").status_code == 403
    assert api.get(f"{DT}/spaces/{HIDDEN_OWNER}/localtables/3VF_SALARY", headers=CSN).status_code == 403
    assets = api.get(f"{CATALOG}/assets", params={"$top": "5000"}).json()["value"]
    assert not any(a["spaceName"] == HIDDEN_OWNER for a in assets)
    # the consumer's catalog never lists a shared object (the catalog lists owners' assets)
    assert not any("." in a["name"] and a["spaceName"] == "DP_SALARY" for a in assets)


def test_shared_objects_can_be_switched_off() -> None:
    plain = Tenant(TenantOptions(include_realistic=False, shared_objects=False))
    assert all(not s.hidden for s in plain.spaces())
    assert [o.name for o in plain.objects_in("DP_SALARY")] == ["3VF_SALARY_CSRD"]
    shared = Tenant(TenantOptions(include_realistic=False))
    assert {o.name for o in shared.objects_in("DP_SALARY")} == {
        "3VF_SALARY_CSRD",
        SHARED_VIEW,
        SHARED_TABLE,
    }
    assert {shared.owner_of(o) for o in shared.objects_in("DP_SALARY")} == {
        "DP_SALARY",
        VISIBLE_OWNER,
        HIDDEN_OWNER,
    }


def test_connections_are_a_bare_list_of_the_space_connections(api: httpx.Client) -> None:
    rows = api.get(f"{DT}/spaces/SALES/connections").json()
    assert isinstance(rows, list) and rows
    assert {"name", "businessName", "typeId"} <= set(rows[0])
    assert "S4H_PROD" in {r["name"] for r in rows}
    assert api.get(f"{DT}/spaces/DP_SALARY/connections").json() == []
    assert api.get(f"{DT}/spaces/NO_SUCH_SPACE/connections").status_code == 404
    assert api.get(f"{DT}/spaces/{HIDDEN_OWNER}/connections").status_code == 403


def test_not_offered_fault_makes_one_kind_answer_404(api: httpx.Client, admin: httpx.Client) -> None:
    assert api.get(f"{DT}/spaces/SALES/taskchains").status_code == 200
    state = admin.post("/faults", json={"not_offered": ["taskchains"]}).json()
    assert state["not_offered"] == ["taskchains"]
    assert api.get(f"{DT}/spaces/SALES/taskchains").status_code == 404
    assert api.get(f"{DT}/spaces/SALES/taskchains/ANY", headers=CSN).status_code == 404
    assert api.get(f"{DT}/spaces/SALES/views").status_code == 200
    admin.delete("/faults")
    assert api.get(f"{DT}/spaces/SALES/taskchains").status_code == 200


def test_not_offered_fault_rejects_unknown_segments(admin: httpx.Client) -> None:
    r = admin.post("/faults", json={"not_offered": ["tasks"]})
    assert r.status_code == 400
    assert "unknown design-time segment" in r.text
