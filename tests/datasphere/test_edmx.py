"""$metadata (CSDL XML) → columns: types and facets, keys, annotations, safety."""

from __future__ import annotations

import pytest

from core.datasphere.edmx import parse_metadata
from core.errors import UnexpectedResponse
from core.models import CdsType, SemanticRole

RELATIONAL = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:Reference Uri="https://sap.github.io/odata-vocabularies/vocabularies/Common.xml">
    <edmx:Include Namespace="com.sap.vocabularies.Common.v1" Alias="Common"/>
  </edmx:Reference>
  <edmx:Reference Uri="https://sap.github.io/odata-vocabularies/vocabularies/Analytics.xml">
    <edmx:Include Namespace="com.sap.vocabularies.Analytics.v1" Alias="Analytics"/>
  </edmx:Reference>
  <edmx:DataServices>
    <Schema Namespace="StandaloneService" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="SAP_TIME_VIEW_DIMENSION_DAY">
        <Annotation Term="DataIntegration.OriginalName" String="SAP.TIME.VIEW_DIMENSION_DAY"/>
        <Annotation Term="Common.Label" String="Time Dimension - Day"/>
        <Annotation Term="Analytics.dimensionType" EnumMember="Analytics.DimensionType/TIME"/>
        <Key><PropertyRef Name="DATE_SQL"/></Key>
        <Property Name="DATE_SQL" Type="Edm.Date" Nullable="false">
          <Annotation Term="Common.Label" String="Date"/>
          <Annotation Term="Analytics.Dimension" Bool="true"/>
          <Annotation Term="Common.IsCalendarDate"/>
        </Property>
        <Property Name="CALMONTH" Type="Edm.String" MaxLength="6">
          <Annotation Term="Common.IsCalendarYearMonth" Bool="true"/>
          <Annotation Term="Common.Label" String="Calendar Month"/>
        </Property>
        <Property Name="AMOUNT" Type="Edm.Decimal" Precision="20" Scale="3">
          <Annotation Term="Analytics.measure" Bool="true"/>
        </Property>
        <Property Name="PRICE" Type="Edm.Decimal" Precision="10"/>
        <Property Name="FLOATY" Type="Edm.Decimal"/>
        <Property Name="CURRENCY" Type="Edm.String" MaxLength="5">
          <Annotation Term="Common.IsCurrency" Bool="true"/>
        </Property>
        <Property Name="UNIT" Type="Edm.String" MaxLength="3">
          <Annotation Term="Common.IsUnit" Bool="true"/>
        </Property>
        <Property Name="TINY" Type="Edm.Byte"/>
        <Property Name="SMALL" Type="Edm.Int16"/>
        <Property Name="INT" Type="Edm.Int32"/>
        <Property Name="BIG" Type="Edm.Int64"/>
        <Property Name="DBL" Type="Edm.Double"/>
        <Property Name="REAL" Type="Edm.Single"/>
        <Property Name="FLAG" Type="Edm.Boolean"/>
        <Property Name="TOD" Type="Edm.TimeOfDay"/>
        <Property Name="TS" Type="Edm.DateTimeOffset" Precision="7"/>
        <Property Name="BIN" Type="Edm.Binary" MaxLength="16"/>
        <Property Name="BLOB" Type="Edm.Binary"/>
        <Property Name="ID" Type="Edm.Guid"/>
        <Property Name="CLOB" Type="Edm.String"/>
        <Property Name="WEIRD" Type="Edm.Untyped"/>
      </EntityType>
      <EntityContainer Name="EntityContainer">
        <EntitySet Name="SAP_TIME_VIEW_DIMENSION_DAY" EntityType="StandaloneService.SAP_TIME_VIEW_DIMENSION_DAY"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""

ANALYTICAL = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:Reference Uri="x"><edmx:Include Namespace="com.sap.vocabularies.Common.v1" Alias="SAP__common"/></edmx:Reference>
  <edmx:DataServices>
    <Schema Namespace="InaApplicationService" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="AM_SALES">
        <Property Name="Customer" Type="Edm.String" MaxLength="10"/>
        <Property Name="NetAmount" Type="Edm.Decimal" Precision="15" Scale="2"/>
        <Property Name="Region" Type="Edm.String" MaxLength="3"/>
      </EntityType>
      <EntityContainer Name="EntityContainer">
        <EntitySet Name="AM_SALES" EntityType="InaApplicationService.AM_SALES"/>
      </EntityContainer>
      <Annotations Target="InaApplicationService.AM_SALES/Customer">
        <Annotation Term="com.sap.vocabularies.Analytics.v1.Dimension" Bool="true"/>
        <Annotation Term="SAP__common.Label" String="Customer"/>
        <Annotation Term="SAP__common.Text" Path="CustomerName"/>
      </Annotations>
      <Annotations Target="InaApplicationService.AM_SALES/NetAmount">
        <Annotation Term="Analytics.MEASURE" Bool="true"/>
      </Annotations>
      <Annotations Target="InaApplicationService.AM_SALES">
        <Annotation Term="Hierarchy.leveled">
          <Collection>
            <Record>
              <PropertyValue Property="name" String="GEO"/>
              <PropertyValue Property="label" String="Geography"/>
              <PropertyValue Property="levels">
                <Collection>
                  <Record><PropertyValue Property="element" PropertyPath="Region"/></Record>
                  <Record><PropertyValue Property="element" PropertyPath="Customer"/></Record>
                </Collection>
              </PropertyValue>
            </Record>
          </Collection>
        </Annotation>
      </Annotations>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""


def test_relational_types_facets_and_keys() -> None:
    doc = parse_metadata(RELATIONAL)
    et = doc.main
    assert et.edm_name == "SAP_TIME_VIEW_DIMENSION_DAY"
    assert et.name == "SAP.TIME.VIEW_DIMENSION_DAY"  # DataIntegration.OriginalName
    assert et.label == "Time Dimension - Day"
    assert et.dimension_type == "TIME"
    types = {c.name: c.type for c in et.columns}
    expected = {
        "DATE_SQL": CdsType(name="cds.Date", edm_type="Edm.Date"),
        "CALMONTH": CdsType(name="cds.String", length=6, edm_type="Edm.String"),
        "AMOUNT": CdsType(name="cds.Decimal", precision=20, scale=3, edm_type="Edm.Decimal"),
        "PRICE": CdsType(name="cds.Decimal", precision=10, scale=0, edm_type="Edm.Decimal"),
        "FLOATY": CdsType(name="cds.DecimalFloat", edm_type="Edm.Decimal"),
        "TINY": CdsType(name="cds.hana.TINYINT", edm_type="Edm.Byte"),
        "SMALL": CdsType(name="cds.hana.SMALLINT", edm_type="Edm.Int16"),
        "INT": CdsType(name="cds.Integer", edm_type="Edm.Int32"),
        "BIG": CdsType(name="cds.Integer64", edm_type="Edm.Int64"),
        "DBL": CdsType(name="cds.Double", edm_type="Edm.Double"),
        "REAL": CdsType(name="cds.hana.REAL", edm_type="Edm.Single"),
        "FLAG": CdsType(name="cds.Boolean", edm_type="Edm.Boolean"),
        "TOD": CdsType(name="cds.Time", edm_type="Edm.TimeOfDay"),
        "TS": CdsType(name="cds.Timestamp", edm_type="Edm.DateTimeOffset"),
        "BIN": CdsType(name="cds.Binary", length=16, edm_type="Edm.Binary"),
        "BLOB": CdsType(name="cds.LargeBinary", edm_type="Edm.Binary"),
        "ID": CdsType(name="cds.UUID", edm_type="Edm.Guid"),
        "CLOB": CdsType(name="cds.String", edm_type="Edm.String"),
    }
    for name, cds in expected.items():
        assert types[name] == cds, name
    date = et.column("DATE_SQL")
    assert date is not None
    assert (date.key, date.nullable, date.label, date.role) == (
        True,
        False,
        "Date",
        SemanticRole.DIMENSION,
    )
    assert date.semantics == {"calendar.date": "true"}
    calmonth = et.column("CALMONTH")
    assert calmonth is not None and calmonth.nullable is True
    assert calmonth.semantics == {"calendar.yearMonth": "true"}
    amount = et.column("AMOUNT")
    assert amount is not None and amount.role is SemanticRole.MEASURE  # lowercase "measure"
    assert et.column("CURRENCY").semantics == {"currencyCode": "true"}  # type: ignore[union-attr]
    assert et.column("UNIT").semantics == {"unitOfMeasure": "true"}  # type: ignore[union-attr]
    assert any("Edm.Untyped" in w for w in et.warnings)


def test_analytical_external_annotations_aliases_and_case() -> None:
    et = parse_metadata(ANALYTICAL.encode("utf-8")).main
    customer, amount, region = et.columns
    assert customer.role is SemanticRole.DIMENSION  # full vocabulary namespace
    assert customer.label == "Customer"  # SAP__common alias
    assert customer.text_element == "CustomerName"
    assert amount.role is SemanticRole.MEASURE  # "Analytics.MEASURE": any case
    assert amount.type == CdsType(name="cds.Decimal", precision=15, scale=2, edm_type="Edm.Decimal")
    assert region.role is SemanticRole.ATTRIBUTE
    (geo,) = et.hierarchies
    assert (geo.name, geo.label, geo.levels) == ("GEO", "Geography", ["Region", "Customer"])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><edmx:Edmx '
            'xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">&a;</edmx:Edmx>',
            "DOCTYPE",
        ),
        ("<html><body>Please log in</body></html>", "HTML page"),
        ("<!DOCTYPE html><html><head></head></html>", "HTML page"),
        ("<edmx:Edmx", "not well-formed"),
        ("<root/>", "not <edmx:Edmx>"),
    ],
)
def test_unsafe_or_malformed_metadata_is_refused(body: str, fragment: str) -> None:
    with pytest.raises(UnexpectedResponse) as info:
        parse_metadata(body)
    assert fragment in info.value.message


def test_document_without_entity_type_has_no_main() -> None:
    doc = parse_metadata(
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices/></edmx:Edmx>'
    )
    with pytest.raises(UnexpectedResponse, match="no entity type"):
        _ = doc.main
