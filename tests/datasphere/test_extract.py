"""Extractor on a scripted tenant (MockTransport): skips, per-item errors, type resolution."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.datasphere.client import DatasphereClient
from core.datasphere.csn import UNRESOLVED_TYPE, parse_csn
from core.datasphere.extract import Extractor, apply_metadata
from core.errors import AuthError
from core.models import AssetKind, CdsType

from .fakes import BASE, FakeTenant, Sleeps, settings

TABLE = {
    "definitions": {
        "T_ORDERS": {
            "kind": "entity",
            "elements": {
                "ID": {"type": "cds.Integer", "key": True},
                "AMOUNT": {
                    "type": "cds.Decimal",
                    "precision": 15,
                    "scale": 2,
                    "@AnalyticsDetails.measureType": {"#": "BASE"},
                },
            },
        }
    }
}
MODEL = {
    "definitions": {
        "AM": {
            "kind": "entity",
            "@ObjectModel.modelingPattern": {"#": "ANALYTICAL_CUBE"},
            "elements": {
                "ID": {"@Analytics.dimension": True},
                "AMOUNT": {"@AnalyticsDetails.measureType": {"#": "BASE"}},
                "DOUBLE_AMOUNT": {"@AnalyticsDetails.measureType": {"#": "CALCULATION"}},
                "REGION": {"@Analytics.dimension": True},
            },
        }
    },
    "businessLayerDefinitions": {
        "AM": {
            "sourceModel": {"factSources": {"f": {"dataEntity": {"key": "T_ORDERS"}}}},
            "attributes": {
                "ID": {
                    "attributeType": "AnalyticModelAttributeType.FactSourceAttribute",
                    "attributeMapping": {"f": {"key": "ID"}},
                },
                "REGION": {
                    "attributeType": "AnalyticModelAttributeType.DimensionSourceAttribute",
                    "sourceKey": "0",
                    "key": "REGION",
                },
            },
            "measures": {
                "AMOUNT": {
                    "measureType": "AnalyticModelMeasureType.FactSourceMeasure",
                    "measureMapping": {"f": {"key": "AMOUNT"}},
                },
                "DOUBLE_AMOUNT": {
                    "measureType": "AnalyticModelMeasureType.CalculatedMeasure",
                    "formula": "AMOUNT * 2",
                },
            },
        }
    },
}
AM_METADATA = """<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
<edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="InaApplicationService">
<EntityType Name="AM"><Property Name="ID" Type="Edm.Int32"/><Property Name="REGION" Type="Edm.String" MaxLength="3"/>
<Property Name="AMOUNT" Type="Edm.Decimal" Precision="15" Scale="2"/></EntityType>
<EntityContainer Name="C"><EntitySet Name="AM" EntityType="InaApplicationService.AM"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"""


def _tenant(
    spaces: dict[str, Any], *, metadata: str | None = AM_METADATA, **status: int
) -> FakeTenant:
    """``spaces``: space → {segment: {name: csn}}; ``status``: space → HTTP status for its lists."""

    def api(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/catalog/spaces"):
            return httpx.Response(
                200, json={"value": [{"name": s, "label": s.title()} for s in spaces]}
            )
        if "/catalog/spaces(" in path:
            space = path.split("('")[1].split("')")[0]
            if status.get(space):
                return httpx.Response(status[space], json={"error": {"code": "x", "message": "no"}})
            rows = []
            if "AM" in spaces[space].get("analyticmodels", {}):
                url = f"{BASE}/api/v1/dwc/consumption/analytical/{space}/AM/$metadata"
                rows.append(
                    {
                        "name": "AM",
                        "spaceName": space,
                        "assetAnalyticalMetadataUrl": url,
                        "supportsAnalyticalQueries": True,
                    }
                )
            return httpx.Response(200, json={"value": rows})
        if path.endswith("$metadata"):
            if metadata is None:
                return httpx.Response(404)
            return httpx.Response(200, text=metadata, headers={"content-type": "application/xml"})
        parts = path.split("/")  # /dwaas-core/api/v1/spaces/{space}/{segment}[/{name}]
        space, segment = parts[5], parts[6]
        if status.get(space):
            return httpx.Response(
                status[space], json={"error": {"code": "x", "message": "not a member"}}
            )
        objects = spaces[space].get(segment, {})
        if len(parts) == 7:
            skip = int(request.url.params.get("skip", 0))
            names = [{"technicalName": n} for n in objects][skip:]
            return httpx.Response(200, json=names)
        name = parts[7]
        if name not in objects:
            return httpx.Response(404, json={"error": {"code": "x", "message": "no such object"}})
        body = objects[name]
        if isinstance(body, str):
            return httpx.Response(200, text=body, headers={"content-type": "application/json"})
        return httpx.Response(200, json=body, headers={"etag": '"e1"'})

    return FakeTenant(api=api)


def _client(fake: FakeTenant) -> DatasphereClient:
    return DatasphereClient(settings(max_retries=0), http=fake.client(), sleep=Sleeps())


def test_forbidden_space_is_skipped_and_others_extracted() -> None:
    fake = _tenant(
        {"HR": {"localtables": {"T_ORDERS": TABLE}}, "SALES": {"localtables": {"T_ORDERS": TABLE}}},
        HR=403,
    )
    result = Extractor(_client(fake)).extract()
    assert list(result.skipped_spaces) == ["HR"]
    assert "not a member (403)" in result.skipped_spaces["HR"]
    assert [a.key for a in result.assets] == ["SALES.T_ORDERS"]


def test_unknown_requested_space_is_skipped_as_not_found() -> None:
    fake = _tenant({"SALES": {}, "GHOST": {}}, GHOST=404)
    result = Extractor(_client(fake), spaces=["GHOST"]).extract()
    assert result.skipped_spaces["GHOST"].startswith("not found (404)")
    assert result.assets == []


def test_invalid_json_object_is_reported_the_rest_extracted() -> None:
    fake = _tenant({"SALES": {"localtables": {"T_ORDERS": TABLE, "T_BAD": "{not json"}}})
    progress: list[tuple[int, int | None]] = []
    result = Extractor(_client(fake)).extract(progress=lambda d, t: progress.append((d, t)))
    assert [a.name for a in result.assets] == ["T_ORDERS"]
    assert result.errors["SALES.T_BAD"].code == "unexpected_response"
    assert result.errors["SALES.T_BAD"].kind == "local_table"
    assert progress[0] == (0, 2) and progress[-1] == (2, 2)


def test_analytic_model_types_from_source_then_metadata_then_formula() -> None:
    fake = _tenant({"SALES": {"localtables": {"T_ORDERS": TABLE}, "analyticmodels": {"AM": MODEL}}})
    result = Extractor(_client(fake)).extract()
    am = result.by_ref()[next(r for r in result.by_ref() if r.name == "AM")]
    types = {c.name: c.type for c in am.columns}
    assert types["ID"] == CdsType(name="cds.Integer")  # from the fact source
    assert types["AMOUNT"] == CdsType(name="cds.Decimal", precision=15, scale=2)
    assert types["REGION"] == CdsType(
        name="cds.String", length=3, edm_type="Edm.String"
    )  # $metadata
    assert types["DOUBLE_AMOUNT"] == types["AMOUNT"]  # the formula's measure, with a warning
    assert any("DOUBLE_AMOUNT" in w and "assumed" in w for w in am.warnings)
    assert am.business.exposed and am.analytical_metadata_url
    assert am.fingerprint == am.compute_fingerprint()


def test_metadata_404_is_a_warning_measures_assumed_decimal_float() -> None:
    # no source (404 for every kind) and no $metadata (404): nothing failed, nothing typed
    fake = _tenant({"SALES": {"analyticmodels": {"AM": MODEL}}}, metadata=None)
    result = Extractor(_client(fake)).extract()
    (am,) = result.assets
    assert result.errors == {} and result.incomplete == {}
    cols = {c.name: c for c in am.columns}
    for measure in ("AMOUNT", "DOUBLE_AMOUNT"):
        assert cols[measure].type == CdsType(name="cds.DecimalFloat")
        assert cols[measure].type_origin == "assumed"
        assert (
            f"measure {measure}: type not found in its source or $metadata; assumed DecimalFloat"
            in am.warnings
        )
    assert {c.name for c in am.columns if c.type.name == UNRESOLVED_TYPE} == {"ID", "REGION"}
    assert any("404" in w for w in am.warnings)
    assert any(w.startswith("column types unresolved") and "ID, REGION" in w for w in am.warnings)


def test_auth_failure_stops_the_run() -> None:
    fake = _tenant({"SALES": {"localtables": {"T_ORDERS": TABLE}}})
    fake.token = lambda r: httpx.Response(401, json={"error": "invalid_client"})
    with pytest.raises(AuthError, match="bad credentials"):
        Extractor(_client(fake)).extract()


def test_apply_metadata_matches_sanitised_names_and_keeps_csn_roles() -> None:
    doc = json.loads(json.dumps(MODEL))
    doc["definitions"]["AM"]["elements"]["Net.Amount"] = {
        "@AnalyticsDetails.measureType": {"#": "BASE"}
    }
    (am,) = parse_csn(doc, space="S", known_spaces=set())
    xml = AM_METADATA.replace(
        '<Property Name="ID"', '<Property Name="Net_Amount" Type="Edm.Double"/><Property Name="ID"'
    )
    typed = apply_metadata(am, xml)
    net = next(c for c in typed.columns if c.name == "Net.Amount")
    assert net.type == CdsType(name="cds.Double", edm_type="Edm.Double")
    assert net.role.value == "measure"
    assert typed.fingerprint == typed.compute_fingerprint()


def test_fetch_asset_is_conditional() -> None:
    fake = _tenant({"SALES": {"localtables": {"T_ORDERS": TABLE}}})
    extractor = Extractor(_client(fake), kinds=[AssetKind.LOCAL_TABLE])
    assert extractor.list_inventory("SALES") == {(AssetKind.LOCAL_TABLE, "T_ORDERS"): None}
    got = extractor.fetch_asset("SALES", AssetKind.LOCAL_TABLE, "T_ORDERS")
    assert got.etag == '"e1"'
    assert [a.name for a in got.value] == ["T_ORDERS"]  # type: ignore[union-attr]


def test_a_server_that_ignores_if_none_match_is_read_in_full() -> None:
    """Fallback: a server without conditional requests answers 200 every time; the object is
    then simply read and mapped again (no 304 assumed, nothing lost)."""
    fake = _tenant({"SALES": {"localtables": {"T_ORDERS": TABLE}}})
    extractor = Extractor(_client(fake), kinds=[AssetKind.LOCAL_TABLE])
    result = extractor.extract(etags={"SALES.T_ORDERS": '"e1"'})
    assert [a.name for a in result.assets] == ["T_ORDERS"]
    assert result.unchanged == {}
    assert result.etags == {"SALES.T_ORDERS": '"e1"'}
