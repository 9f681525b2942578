"""The generated realistic tenant: SALES, FINANCE, HR and MASTER_DATA.

Hand-modelled after SAP S/4HANA-style content: remote and local tables, joins, unions,
fact/dimension/text views, leveled and parent-child hierarchies, analytic models with fact
and dimension sources (one cross-space fact source, one legacy business-layer spelling),
data/transformation/replication flows, a task chain, cross-space references, names with dots,
element names with spaces and ``∞``, two table names differing only in case, and every CDS
type of the contract's type table. Deterministic: no randomness at all.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from core.models import AssetKind

from .csnbuild import (
    analytic_model,
    assoc,
    col,
    copy_elements,
    data_flow,
    dec,
    document,
    el,
    entity,
    join,
    project_columns,
    ref,
    replication_flow,
    s,
    select,
    space_context,
    task_chain,
    transformation_flow,
    union,
)
from .model import DesignObject, Json, SpaceInfo

SPACES: tuple[SpaceInfo, ...] = (
    SpaceInfo("SALES", "Sales"),
    SpaceInfo("FINANCE", "Finance"),
    SpaceInfo("HR", "Human Resources"),
    SpaceInfo("MASTER_DATA", "Master Data"),
)
_LABELS = {sp.name: sp.label for sp in SPACES}

REMOTE_S4 = {
    "@DataWarehouse.remote.connection": "S4H_PROD",
    "@cds.persistence.exists": True,
}


def _remote(entity_name: str) -> Json:
    return {**REMOTE_S4, "@DataWarehouse.remote.entity": entity_name}


class _Builder:
    def __init__(self) -> None:
        self.objects: list[DesignObject] = []
        self.elements: dict[tuple[str, str], Json] = {}

    def add(
        self,
        space: str,
        kind: AssetKind,
        name: str,
        definition: Json,
        *,
        business_layer: Json | None = None,
        editor: Json | None = None,
        status: str = "Deployed",
        cross: Sequence[str] = (),
        meta: bool = True,
    ) -> None:
        if meta and kind.has_columns:
            definition.setdefault("_meta", {"dependencies": {"folderAssignment": None}})
        contexts = {sp: space_context(sp, _LABELS[sp]) for sp in sorted(set(cross))}
        # A namespaced name (SAP.SD.X) carries its namespace contexts, as SAP's exports do.
        parts = name.split(".")[:-1] if not kind.is_flow else []
        for i in range(1, len(parts) + 1):
            contexts.setdefault(".".join(parts[:i]), {"kind": "context"})
        doc = document(kind, name, definition, contexts=contexts, business_layer=business_layer, editor_settings=editor)
        label = definition.get("@EndUserText.label")
        self.objects.append(
            DesignObject(space=space, name=name, kind=kind, label=label if isinstance(label, str) else name,
                         doc=doc, status=status)
        )
        if "elements" in definition:
            self.elements[(space, name)] = definition["elements"]

    def els(self, space: str, name: str) -> Json:
        return self.elements[(space, name)]

    def pick(self, space: str, name: str, names: Sequence[str], *, keep_keys: bool = True,
             overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Json:
        out = copy_elements(self.els(space, name), names, keep_keys=keep_keys)
        for n, extra in (overrides or {}).items():
            out[n].update(extra)
        return out


def _editor(name: str) -> Json:
    return {
        "editor": {"lastModifier": "GRAPHICALVIEWBUILDER", "default": "GRAPHICALVIEWBUILDER"},
        "uiModel": json.dumps({"contents": {name: {"classDefinition": "sap.cdw.querybuilder.Model", "name": name}}}),
    }


def build_realistic() -> tuple[list[SpaceInfo], list[DesignObject]]:
    b = _Builder()
    _master_data(b)
    _sales(b)
    _finance(b)
    _hr(b)
    return list(SPACES), b.objects


# -- MASTER_DATA ------------------------------------------------------------------------------


def _master_data(b: _Builder) -> None:
    sp = "MASTER_DATA"
    b.add(sp, AssetKind.LOCAL_TABLE, "TIME_DIM_DAY", entity("Time Dimension Table (Day)", {
        "DateSQL": el("cds.Date", "Date", key=True),
        "CalendarYear": s(4, "Calendar Year"),
        "CalendarQuarter": s(1, "Calendar Quarter"),
        "CalendarMonth": s(2, "Calendar Month"),
        "YearQuarter": s(5, "Year Quarter"),
        "YearMonth": s(6, "Year Month"),
        "CalendarWeek": s(6, "Calendar Week"),
        "DayOfWeek": el("cds.hana.TINYINT", "Day of Week"),
        "DayName": s(10, "Day Name"),
        "MonthName": s(10, "Month Name"),
    }, exposed=False))
    day = b.els(sp, "TIME_DIM_DAY")
    elements = copy_elements(day)
    elements["DateSQL"].update({"@Analytics.dimension": True, "@Semantics.calendar.date": True,
                                "@ObjectModel.text.element": [{"=": "DayName"}]})
    elements["CalendarYear"].update({"@Analytics.dimension": True, "@Semantics.calendar.year": True})
    elements["CalendarQuarter"].update({"@Semantics.calendar.quarter": True})
    elements["CalendarMonth"].update({"@Semantics.calendar.month": True, "@ObjectModel.text.element": [{"=": "MonthName"}]})
    elements["YearQuarter"].update({"@Analytics.dimension": True, "@Semantics.calendar.yearQuarter": True})
    elements["YearMonth"].update({"@Analytics.dimension": True, "@Semantics.calendar.yearMonth": True})
    elements["CalendarWeek"].update({"@Semantics.calendar.yearWeek": True})
    elements["DayName"]["@Semantics.text"] = True
    elements["MonthName"]["@Semantics.text"] = True
    b.add(sp, AssetKind.VIEW, "V_TIME_DIM_DAY", entity(
        "Time Dimension - Day", elements, pattern="ANALYTICAL_DIMENSION",
        capabilities=["ANALYTICAL_DIMENSION", "ANALYTICAL_PROVIDER"], exposed=True,
        extra={
            "@Analytics.dimensionType": "#TIME",
            "@Hierarchy.leveled": [
                {"name": "YQMD", "label": "Year, Quarter, Month, Day", "levels": [
                    {"element": {"=": "CalendarYear"}}, {"element": {"=": "YearQuarter"}},
                    {"element": {"=": "YearMonth"}}, {"element": {"=": "DateSQL"}}]},
                {"name": "YMD", "label": "Year, Month, Day", "levels": [
                    {"element": {"=": "CalendarYear"}}, {"element": {"=": "YearMonth"}},
                    {"element": {"=": "DateSQL"}}]},
            ],
        },
        query=select(ref("TIME_DIM_DAY"), project_columns("TIME_DIM_DAY", day)),
    ))
    b.add(sp, AssetKind.LOCAL_TABLE, "CURRENCY", entity("Currency", {
        "Currency": s(5, "Currency", key=True, is_currency=True),
        "Decimals": el("cds.hana.TINYINT", "Decimal Places"),
        "ISOCode": el("hana.CHAR", "ISO Code", length=3),
        "AlternativeKey": el("hana.NCHAR", "Alternative Key", length=3),
    }, exposed=True))
    b.add(sp, AssetKind.LOCAL_TABLE, "CURRENCY_TEXT", entity("Currency Texts", {
        "Currency": s(5, "Currency", key=True),
        "Language": s(2, "Language", key=True, is_language=True),
        "CurrencyName": s(40, "Currency Name", is_text=True),
    }, pattern="LANGUAGE_DEPENDENT_TEXT", exposed=False))
    b.add(sp, AssetKind.VIEW, "V_CURRENCY_TEXT", entity(
        "Currency Text", copy_elements(b.els(sp, "CURRENCY_TEXT")), pattern="LANGUAGE_DEPENDENT_TEXT", exposed=True,
        query=select(ref("CURRENCY_TEXT"), project_columns("CURRENCY_TEXT", b.els(sp, "CURRENCY_TEXT"))),
    ))
    b.add(sp, AssetKind.LOCAL_TABLE, "UNIT_OF_MEASURE", entity("Units of Measure", {
        "Unit": s(3, "Unit", key=True, is_unit=True),
        "UnitName": s(30, "Unit Name"),
        "Dimension": s(6, "Dimension"),
    }, exposed=True))
    b.add(sp, AssetKind.REMOTE_TABLE, "RT_COUNTRY", entity("Countries", {
        "Country": s(3, "Country", key=True),
        "CountryName": s(50, "Country Name"),
        "Region": s(10, "World Region"),
        "Capital": el("hana.ST_POINT", "Capital Location", srid=4326),
        "Border": el("hana.ST_GEOMETRY", "Border", srid=4326),
    }, exposed=True, extra=_remote("I_Country")))
    b.add(sp, AssetKind.LOCAL_TABLE, "ALL_TYPES", entity("Every CDS type", {
        "ID": el("cds.Integer64", "ID", key=True),
        "C_STRING": s(100, "String(100)"),
        "C_STRING_NOLEN": el("cds.String", "String without length"),
        "C_LARGESTRING": el("cds.LargeString", "LargeString"),
        "C_CLOB": el("hana.CLOB", "CLOB"),
        "C_NCLOB": el("hana.NCLOB", "NCLOB"),
        "C_CHAR": el("hana.CHAR", "CHAR(10)", length=10),
        "C_CHAR_LONG": el("hana.CHAR", "CHAR(300)", length=300),
        "C_NCHAR": el("hana.NCHAR", "NCHAR(2)", length=2),
        "C_UUID": el("cds.UUID", "UUID"),
        "C_BOOLEAN": el("cds.Boolean", "Boolean"),
        "C_TINYINT": el("cds.hana.TINYINT", "TINYINT"),
        "C_TINYINT_SHORT": el("hana.TINYINT", "TINYINT (hana.)"),
        "C_SMALLINT": el("cds.hana.SMALLINT", "SMALLINT"),
        "C_INTEGER": el("cds.Integer", "Integer"),
        "C_INTEGER64": el("cds.Integer64", "Integer64"),
        "C_DECIMAL": dec(20, 3, "Decimal(20,3)"),
        "C_DECIMAL_38": dec(38, 10, "Decimal(38,10)"),
        "C_DECIMAL_NOSCALE": dec(15, None, "Decimal(15) without scale"),
        "C_DECIMALFLOAT": el("cds.DecimalFloat", "DecimalFloat"),
        "C_SMALLDECIMAL": el("hana.SMALLDECIMAL", "SMALLDECIMAL"),
        "C_DOUBLE": el("cds.Double", "Double"),
        "C_REAL": el("hana.REAL", "REAL"),
        "C_DATE": el("cds.Date", "Date"),
        "C_TIME": el("cds.Time", "Time"),
        "C_DATETIME": el("cds.DateTime", "DateTime"),
        "C_TIMESTAMP": el("cds.Timestamp", "Timestamp"),
        "C_BINARY": el("cds.Binary", "Binary(64)", length=64),
        "C_LARGEBINARY": el("cds.LargeBinary", "LargeBinary"),
        "C_HANA_BINARY": el("hana.BINARY", "BINARY(16)", length=16),
        "C_ST_POINT": el("hana.ST_POINT", "ST_POINT", srid=4326),
        "C_ST_GEOMETRY": el("hana.ST_GEOMETRY", "ST_GEOMETRY", srid=0),
        "C_CURRENCY": s(5, "Currency", is_currency=True),
        "_Currency": assoc("_Currency", "CURRENCY", [("C_CURRENCY", "Currency")], "to Currency"),
    }, exposed=True))


# -- SALES -------------------------------------------------------------------------------------


def _sales(b: _Builder) -> None:
    sp = "SALES"
    b.add(sp, AssetKind.REMOTE_TABLE, "RT_SALES_ORDER_HEADER", entity("Sales Order Header (S/4HANA)", {
        "SalesOrder": s(10, "Sales Order", key=True),
        "SalesOrderType": s(4, "Sales Order Type"),
        "SoldToParty": s(10, "Sold-to Party"),
        "SalesOrganization": s(4, "Sales Organization"),
        "DistributionChannel": s(2, "Distribution Channel"),
        "OrderDate": el("cds.Date", "Order Date"),
        "CreationDateTime": el("cds.Timestamp", "Created At"),
        "LastChangeDateTime": el("cds.DateTime", "Last Changed At"),
        "TotalNetAmount": dec(15, 2, "Total Net Amount", currency="TransactionCurrency"),
        "TransactionCurrency": s(5, "Transaction Currency", is_currency=True),
        "OverallSDProcessStatus": el("hana.CHAR", "Overall Status", length=1),
        "CustomerPurchaseOrder": s(35, "Customer Reference"),
    }, exposed=False, extra=_remote("I_SalesOrder")))
    b.add(sp, AssetKind.REMOTE_TABLE, "RT_SALES_ORDER_ITEM", entity("Sales Order Item (S/4HANA)", {
        "SalesOrder": s(10, "Sales Order", key=True),
        "SalesOrderItem": s(6, "Sales Order Item", key=True),
        "Product": s(40, "Product"),
        "Plant": s(4, "Plant"),
        "OrderQuantity": dec(13, 3, "Order Quantity", unit="OrderQuantityUnit"),
        "OrderQuantityUnit": s(3, "Order Unit", is_unit=True),
        "NetAmount": dec(15, 2, "Net Amount", currency="TransactionCurrency"),
        "CostAmount": dec(15, 2, "Cost Amount", currency="TransactionCurrency"),
        "TransactionCurrency": s(5, "Transaction Currency", is_currency=True),
        "RequestedDeliveryDate": el("cds.Date", "Requested Delivery Date"),
        "ItemCategory": s(4, "Item Category"),
        "ItemRejected": el("cds.Boolean", "Rejected"),
    }, exposed=False, extra=_remote("I_SalesOrderItem")))
    b.add(sp, AssetKind.REMOTE_TABLE, "RT_CUSTOMER", entity("Customer (S/4HANA)", {
        "Customer": s(10, "Customer", key=True),
        "CustomerName": s(80, "Customer Name"),
        "Country": s(3, "Country"),
        "Region": s(3, "Region"),
        "City": s(40, "City"),
        "PostalCode": s(10, "Postal Code"),
        "GeoLocation": el("cds.hana.ST_POINT", "Geo Location", srid=4326),
        "CreatedOn": el("cds.Date", "Created On"),
        "IsBlocked": el("cds.Boolean", "Blocked"),
        "CustomerClassification": el("hana.NCHAR", "Classification", length=2),
    }, exposed=True, extra=_remote("I_Customer")))
    b.add(sp, AssetKind.LOCAL_TABLE, "PRODUCT", entity("Product", {
        "Product": s(40, "Product", key=True),
        "ProductGroup": s(9, "Product Group"),
        "ProductCategory": s(4, "Product Category"),
        "BaseUnit": s(3, "Base Unit", is_unit=True),
        "GrossWeight": dec(13, 3, "Gross Weight", unit="WeightUnit"),
        "WeightUnit": s(3, "Weight Unit", is_unit=True),
        "ListPrice": dec(15, 2, "List Price", currency="Currency"),
        "Currency": s(5, "Currency", is_currency=True),
        "IsActive": el("cds.Boolean", "Active"),
        "ProductUUID": el("cds.UUID", "Product UUID"),
        "LaunchDate": el("cds.Date", "Launch Date"),
        "Description": el("cds.LargeString", "Description"),
        "Checksum": el("cds.Binary", "Checksum", length=32),
    }, exposed=True))
    b.add(sp, AssetKind.LOCAL_TABLE, "PRODUCT_TEXTS", entity("Product Texts", {
        "Product": s(40, "Product", key=True),
        "Language": s(2, "Language", key=True, is_language=True),
        "ProductName": s(80, "Product Name", is_text=True),
    }, pattern="LANGUAGE_DEPENDENT_TEXT", exposed=False))
    order_elements = {
        "SalesOrder": s(10, "Sales Order", key=True),
        "SoldToParty": s(10, "Sold-to Party"),
        "OrderDate": el("cds.Date", "Order Date"),
        "TotalNetAmount": dec(15, 2, "Total Net Amount", currency="TransactionCurrency"),
        "TransactionCurrency": s(5, "Transaction Currency", is_currency=True),
        "Channel": s(10, "Channel"),
        "SessionId": el("cds.UUID", "Session ID"),
        "OrderTime": el("cds.Time", "Order Time"),
    }
    b.add(sp, AssetKind.LOCAL_TABLE, "WEBSHOP_ORDERS", entity("Web Shop Orders", copy.deepcopy(order_elements), exposed=True))
    staging = copy.deepcopy(order_elements)
    staging["LoadedAt"] = el("cds.Timestamp", "Loaded At")
    staging["RawPayload"] = el("hana.NCLOB", "Raw Payload")
    b.add(sp, AssetKind.LOCAL_TABLE, "WEBSHOP_ORDERS_STAGING", entity("Web Shop Orders (staging)", staging, exposed=False))
    # Two technical names that differ only in case (Glue folds names to lowercase).
    b.add(sp, AssetKind.LOCAL_TABLE, "Sales_Region", entity("Sales Region (legacy)", {
        "RegionCode": s(3, "Region Code", key=True),
        "RegionName": s(40, "Region Name"),
    }, exposed=True))
    b.add(sp, AssetKind.LOCAL_TABLE, "SALES_REGION", entity("Sales Region", {
        "REGION_CODE": s(3, "Region Code", key=True),
        "REGION_NAME": s(40, "Region Name"),
        "MANAGER": s(10, "Region Manager"),
    }, exposed=True))
    # A namespaced (dotted) name in the same space: "SAP" is not a space.
    b.add(sp, AssetKind.LOCAL_TABLE, "SAP.SD.DOCUMENT_FLOW", entity("SD Document Flow", {
        "PrecedingDocument": s(10, "Preceding Document", key=True),
        "PrecedingItem": s(6, "Preceding Item", key=True),
        "SubsequentDocument": s(10, "Subsequent Document", key=True),
        "SubsequentItem": s(6, "Subsequent Item", key=True),
        "DocumentCategory": el("hana.CHAR", "Document Category", length=1),
        "FlowTimestamp": el("cds.Timestamp", "Flow Timestamp"),
    }, exposed=True))
    b.add(sp, AssetKind.LOCAL_TABLE, "SALES_TARGETS", entity("Sales Targets", {
        "FiscalYear": el("cds.hana.SMALLINT", "Fiscal Year", key=True),
        "SalesOrganization": s(4, "Sales Organization", key=True),
        "TargetAmount": el("cds.DecimalFloat", "Target Amount", currency="Currency"),
        "Currency": s(5, "Currency", is_currency=True),
        "TargetQuantity": el("hana.SMALLDECIMAL", "Target Quantity"),
        "Confidence": el("cds.hana.REAL", "Confidence"),
    }, exposed=True))
    b.add(sp, AssetKind.LOCAL_TABLE, "ORDERS_ENRICHED", entity("Orders (enriched)", {}, exposed=False))
    b.add(sp, AssetKind.LOCAL_TABLE, "SALES_DOCUMENT_REPL", entity("Sales Documents (replicated)", {
        "SalesDocument": s(10, "Sales Document", key=True),
        "SalesDocumentType": s(4, "Sales Document Type"),
        "CreationDate": el("cds.Date", "Created On"),
        "TotalNetAmount": dec(15, 2, "Net Amount", currency="TransactionCurrency"),
        "TransactionCurrency": s(5, "Currency", is_currency=True),
    }, exposed=False))

    # Dimension: customer (remote table), geo hierarchy, cross-space association to MASTER_DATA.
    cust = b.pick(sp, "RT_CUSTOMER", ["Customer", "CustomerName", "Country", "Region", "City", "PostalCode", "GeoLocation"],
                  overrides={"Customer": {"@Analytics.dimension": True, "@ObjectModel.text.element": [{"=": "CustomerName"}]},
                             "CustomerName": {"@Semantics.text": True},
                             "Country": {"@Analytics.dimension": True, "@ObjectModel.foreignKey.association": {"=": "_Country"}},
                             "Region": {"@Analytics.dimension": True},
                             "City": {"@Analytics.dimension": True}})
    cust["_Country"] = assoc("_Country", "MASTER_DATA.RT_COUNTRY", [("Country", "Country")], "to Country")
    b.add(sp, AssetKind.VIEW, "V_CUSTOMER_DIM", entity(
        "Customer", cust, pattern="ANALYTICAL_DIMENSION", capabilities=["ANALYTICAL_DIMENSION", "DATA_STRUCTURE"],
        exposed=True,
        extra={"@Hierarchy.leveled": [{"name": "GEO", "label": "Country, Region, City", "levels": [
            {"element": {"=": "Country"}}, {"element": {"=": "Region"}}, {"element": {"=": "City"}},
            {"element": {"=": "Customer"}}]}]},
        query=select(ref("RT_CUSTOMER", "C"),
                     [*project_columns("C", b.els(sp, "RT_CUSTOMER"), [n for n in cust if not n.startswith("_")]),
                      {"ref": ["_Country"]}],
                     mixin={"_Country": assoc("_Country", "MASTER_DATA.RT_COUNTRY", [("Country", "Country")], projection=True)},
                     where=[{"ref": ["C", "IsBlocked"]}, "=", {"val": False}]),
    ), cross=["MASTER_DATA"])

    b.add(sp, AssetKind.VIEW, "V_PRODUCT_TEXT", entity(
        "Product Text", copy_elements(b.els(sp, "PRODUCT_TEXTS")), pattern="LANGUAGE_DEPENDENT_TEXT", exposed=True,
        query=select(ref("PRODUCT_TEXTS"), project_columns("PRODUCT_TEXTS", b.els(sp, "PRODUCT_TEXTS"))),
    ))
    prod = b.pick(sp, "PRODUCT", ["Product", "ProductGroup", "ProductCategory", "BaseUnit", "ListPrice", "Currency", "IsActive"],
                  overrides={"Product": {"@Analytics.dimension": True, "@ObjectModel.text.association": {"=": "_Text"}},
                             "ProductGroup": {"@Analytics.dimension": True},
                             "ProductCategory": {"@Analytics.dimension": True}})
    prod["_Text"] = assoc("_Text", "V_PRODUCT_TEXT", [("Product", "Product")], "Product Texts")
    b.add(sp, AssetKind.VIEW, "V_PRODUCT_DIM", entity(
        "Product", prod, pattern="ANALYTICAL_DIMENSION", capabilities=["ANALYTICAL_DIMENSION", "DATA_STRUCTURE"],
        exposed=True,
        extra={"@Hierarchy.leveled": [{"name": "PRODUCT_HIER", "label": "Category, Group, Product", "levels": [
            {"element": {"=": "ProductCategory"}}, {"element": {"=": "ProductGroup"}},
            {"element": {"=": "Product"}}]}]},
        query=select(ref("PRODUCT", "P"),
                     [*project_columns("P", b.els(sp, "PRODUCT"), [n for n in prod if not n.startswith("_")]),
                      {"ref": ["_Text"]}],
                     mixin={"_Text": assoc("_Text", "V_PRODUCT_TEXT", [("Product", "Product")], projection=True)}),
    ))

    # Fact view: join of two remote tables, associations to dimensions (one cross-space).
    item = b.els(sp, "RT_SALES_ORDER_ITEM")
    head = b.els(sp, "RT_SALES_ORDER_HEADER")
    fact: Json = {
        "SalesOrder": copy.deepcopy(item["SalesOrder"]),
        "SalesOrderItem": copy.deepcopy(item["SalesOrderItem"]),
        "Customer": s(10, "Customer", fk="_Customer", dim=True),
        "Product": s(40, "Product", fk="_Product", dim=True),
        "SalesOrganization": s(4, "Sales Organization", dim=True),
        "OrderDate": el("cds.Date", "Order Date", fk="_OrderDate", dim=True),
        "OrderYear": s(4, "Order Year", dim=True, calendar="year"),
        "OrderQuantity": dec(13, 3, "Order Quantity", unit="OrderQuantityUnit", measure="SUM"),
        "OrderQuantityUnit": s(3, "Order Unit", is_unit=True),
        "NetAmount": dec(15, 2, "Net Amount", currency="TransactionCurrency", measure="SUM"),
        "CostAmount": dec(15, 2, "Cost Amount", currency="TransactionCurrency", measure="SUM"),
        "TransactionCurrency": s(5, "Transaction Currency", is_currency=True),
        "_Customer": assoc("_Customer", "V_CUSTOMER_DIM", [("Customer", "Customer")], "to Customer"),
        "_Product": assoc("_Product", "V_PRODUCT_DIM", [("Product", "Product")], "to Product"),
        "_OrderDate": assoc("_OrderDate", "MASTER_DATA.V_TIME_DIM_DAY", [("OrderDate", "DateSQL")], "to Order Date"),
    }
    assert head and item
    fact_query = select(
        join("inner", ref("RT_SALES_ORDER_ITEM", "I"), ref("RT_SALES_ORDER_HEADER", "H"), [("I.SalesOrder", "H.SalesOrder")]),
        [col("I", "SalesOrder", key=True), col("I", "SalesOrderItem", key=True), col("H", "SoldToParty", alias="Customer"),
         col("I", "Product"), col("H", "SalesOrganization"), col("H", "OrderDate"),
         {"func": "YEAR", "args": [{"ref": ["H", "OrderDate"]}], "as": "OrderYear",
          "cast": {"type": "cds.String", "length": 4}},
         col("I", "OrderQuantity"), col("I", "OrderQuantityUnit"), col("I", "NetAmount"), col("I", "CostAmount"),
         col("I", "TransactionCurrency"), {"ref": ["_Customer"]}, {"ref": ["_Product"]}, {"ref": ["_OrderDate"]}],
        mixin={
            "_Customer": assoc("_Customer", "V_CUSTOMER_DIM", [("Customer", "Customer")], projection=True),
            "_Product": assoc("_Product", "V_PRODUCT_DIM", [("Product", "Product")], projection=True),
            "_OrderDate": assoc("_OrderDate", "MASTER_DATA.V_TIME_DIM_DAY", [("OrderDate", "DateSQL")], projection=True),
        },
        where=[{"ref": ["I", "ItemRejected"]}, "=", {"val": False}],
    )
    b.add(sp, AssetKind.VIEW, "V_SALES_ORDER_ITEMS", entity(
        "Sales Order Items", fact, pattern="ANALYTICAL_FACT", capabilities=["ANALYTICAL_FACT", "ANALYTICAL_PROVIDER"],
        exposed=True, query=fact_query,
    ), editor=_editor("V_SALES_ORDER_ITEMS"), cross=["MASTER_DATA"])

    # SQL view with a left join; element names with a space and with ∞.
    orders: Json = {
        "SalesOrder": s(10, "Sales Order", key=True),
        "OrderDate": el("cds.Date", "Order Date"),
        "Customer": s(10, "Customer"),
        "Customer Name": s(80, "Customer Name"),
        "Country": s(3, "Country"),
        "TotalNetAmount": dec(15, 2, "Total Net Amount", currency="TransactionCurrency"),
        "TransactionCurrency": s(5, "Transaction Currency", is_currency=True),
        "Delivery ∞ Forecast": el("cds.Double", "Delivery Forecast (open-ended)"),
    }
    b.add(sp, AssetKind.VIEW, "V_ORDERS", entity(
        "Orders", orders, exposed=True,
        query=select(
            join("left", ref("RT_SALES_ORDER_HEADER", "H"), ref("RT_CUSTOMER", "C"), [("H.SoldToParty", "C.Customer")]),
            [col("H", "SalesOrder", key=True), col("H", "OrderDate"), col("H", "SoldToParty", alias="Customer"),
             col("C", "CustomerName", alias="Customer Name"), col("C", "Country"), col("H", "TotalNetAmount"),
             col("H", "TransactionCurrency"),
             {"val": 1.0, "as": "Delivery ∞ Forecast", "cast": {"type": "cds.Double"}}],
        ),
        extra={"@DataWarehouse.sqlEditor.query": (
            'SELECT "H"."SalesOrder", "H"."OrderDate", "H"."SoldToParty" AS "Customer", '
            '"C"."CustomerName" AS "Customer Name", "C"."Country", "H"."TotalNetAmount", '
            '"H"."TransactionCurrency", CAST(1.0 AS DOUBLE) AS "Delivery ∞ Forecast" '
            'FROM "RT_SALES_ORDER_HEADER" AS "H" LEFT JOIN "RT_CUSTOMER" AS "C" ON "H"."SoldToParty" = "C"."Customer"')},
    ))

    # Union of the ERP orders and the web shop orders.
    union_elements: Json = {
        "SalesOrder": s(10, "Sales Order", key=True),
        "Customer": s(10, "Customer"),
        "OrderDate": el("cds.Date", "Order Date"),
        "TotalNetAmount": dec(15, 2, "Total Net Amount", currency="TransactionCurrency"),
        "TransactionCurrency": s(5, "Transaction Currency", is_currency=True),
        "Channel": s(10, "Channel"),
    }
    b.add(sp, AssetKind.VIEW, "V_ORDERS_ALL_CHANNELS", entity(
        "Orders (all channels)", union_elements, exposed=True,
        query=union(
            select(ref("RT_SALES_ORDER_HEADER", "H"),
                   [col("H", "SalesOrder", key=True), col("H", "SoldToParty", alias="Customer"), col("H", "OrderDate"),
                    col("H", "TotalNetAmount"), col("H", "TransactionCurrency"), {"val": "ERP", "as": "Channel"}]),
            select(ref("WEBSHOP_ORDERS", "W"),
                   [col("W", "SalesOrder", key=True), col("W", "SoldToParty", alias="Customer"), col("W", "OrderDate"),
                    col("W", "TotalNetAmount"), col("W", "TransactionCurrency"), col("W", "Channel")]),
        ),
    ))

    # A view with an input parameter (hasParameters in the catalog).
    b.add(sp, AssetKind.VIEW, "V_SALES_BY_REGION", entity(
        "Sales by Region", {
            "Country": s(3, "Country", key=True),
            "TotalNetAmount": dec(17, 2, "Total Net Amount", currency="TransactionCurrency"),
            "TransactionCurrency": s(5, "Transaction Currency", key=True, is_currency=True),
        }, exposed=True,
        extra={"params": {"P_YEAR": {"type": "cds.Integer", "@EndUserText.label": "Year", "default": 2024}}},
        query={"SELECT": {
            "from": ref("V_ORDERS", "O"),
            "columns": [col("O", "Country", key=True),
                        {"func": "SUM", "args": [{"ref": ["O", "TotalNetAmount"]}], "as": "TotalNetAmount"},
                        col("O", "TransactionCurrency", key=True)],
            "where": [{"func": "YEAR", "args": [{"ref": ["O", "OrderDate"]}]}, "=", {"ref": ["P_YEAR"], "param": True}],
            "groupBy": [{"ref": ["O", "Country"]}, {"ref": ["O", "TransactionCurrency"]}]}},
    ))

    # Not deployed: design-time only, never in the catalog.
    b.add(sp, AssetKind.VIEW, "V_PIPELINE_DRAFT", entity(
        "Pipeline (draft)", {"SalesOrder": s(10, "Sales Order", key=True), "Probability": dec(5, 2, "Probability")},
        exposed=True, query=select(ref("RT_SALES_ORDER_HEADER", "H"),
                                   [col("H", "SalesOrder", key=True), {"val": 0.5, "as": "Probability"}]),
    ), status="Not Deployed")

    # Analytic model over the fact view with three dimensions (one cross-space).
    definition, bl = analytic_model(
        name="AM_SALES", label="Sales Analysis", fact_alias="V_SALES_ORDER_ITEMS", fact_key="V_SALES_ORDER_ITEMS",
        fact_label="Sales Order Items", fact_elements=fact,
        fact_attributes=["SalesOrder", "SalesOrderItem", "Customer", "Product", "SalesOrganization", "OrderDate",
                         "OrderYear", "TransactionCurrency", "OrderQuantityUnit"],
        measures=["NetAmount", "CostAmount", "OrderQuantity"],
        dimensions=[
            {"key": "0", "assoc": "_Customer", "fk": "Customer", "target": "V_CUSTOMER_DIM", "text": "Customer",
             "target_elements": b.els(sp, "V_CUSTOMER_DIM"), "attributes": ["CustomerName", "Country", "Region", "City"]},
            {"key": "1", "assoc": "_Product", "fk": "Product", "target": "V_PRODUCT_DIM", "text": "Product",
             "target_elements": b.els(sp, "V_PRODUCT_DIM"), "attributes": ["ProductGroup", "ProductCategory"]},
            {"key": "_OrderDate", "assoc": "_OrderDate", "fk": "OrderDate", "target": "MASTER_DATA.V_TIME_DIM_DAY",
             "text": "Order Date", "target_elements": b.els("MASTER_DATA", "V_TIME_DIM_DAY"),
             "attributes": ["YearMonth", "YearQuarter"]},
        ],
        calculated=[{"name": "Margin", "label": "Margin", "formula": "NetAmount - CostAmount", "uses": ["NetAmount", "CostAmount"]}],
        restricted=[{"name": "NetAmount2024", "label": "Net Amount 2024", "base": "NetAmount", "formula": "OrderYear = '2024'"}],
        variables={"P_YEAR": {"text": "Year", "parameterType": "AnalyticModelParameterType.StoryFilter",
                              "referenceAttribute": "OrderYear",
                              "selectionType": "AnalyticModelVariableSelectionType.SINGLE",
                              "variableProcessingType": "AnalyticModelVariableProcessingType.ManualInput",
                              "defaultValue": "2024", "mandatory": False, "multipleSelections": False, "order": 1}},
    )
    b.add(sp, AssetKind.ANALYTIC_MODEL, "AM_SALES", definition, business_layer=bl, cross=["MASTER_DATA"])

    b.add(sp, AssetKind.DATA_FLOW, "DF_LOAD_WEBSHOP_ORDERS",
          data_flow("Load web shop orders", ["WEBSHOP_ORDERS_STAGING"], "WEBSHOP_ORDERS", mode="APPEND"))
    tf = transformation_flow("TF_ORDERS_ENRICH", "Enrich orders", "V_ORDERS", orders, "ORDERS_ENRICHED")
    b.add(sp, AssetKind.TRANSFORMATION_FLOW, "TF_ORDERS_ENRICH", tf)
    # The target table of the transformation flow has the view's columns.
    enriched = next(o for o in b.objects if o.space == sp and o.name == "ORDERS_ENRICHED")
    enriched.definition["elements"].update(copy_elements(orders))
    b.add(sp, AssetKind.REPLICATION_FLOW, "RF_S4_SALES", replication_flow(
        "Replicate S/4HANA sales documents", "S4H_PROD", sp, [("I_SALESDOCUMENT", "SALES_DOCUMENT_REPL")]))
    b.add(sp, AssetKind.TASK_CHAIN, "TC_SALES_NIGHTLY", task_chain("Sales nightly load", [
        (AssetKind.REPLICATION_FLOW, "RF_S4_SALES"), (AssetKind.DATA_FLOW, "DF_LOAD_WEBSHOP_ORDERS"),
        (AssetKind.TRANSFORMATION_FLOW, "TF_ORDERS_ENRICH")]))


# -- FINANCE -----------------------------------------------------------------------------------


def _finance(b: _Builder) -> None:
    sp = "FINANCE"
    b.add(sp, AssetKind.LOCAL_TABLE, "GL_ACCOUNT", entity("G/L Account", {
        "ChartOfAccounts": s(4, "Chart of Accounts", key=True),
        "GLAccount": s(10, "G/L Account", key=True),
        "GLAccountType": el("hana.CHAR", "G/L Account Type", length=1),
        "AccountGroup": s(4, "Account Group"),
        "IsBalanceSheetAccount": el("cds.Boolean", "Balance Sheet Account"),
        "CreatedOn": el("cds.Date", "Created On"),
    }, exposed=True))
    b.add(sp, AssetKind.LOCAL_TABLE, "GL_ACCOUNT_TEXT", entity("G/L Account Texts", {
        "ChartOfAccounts": s(4, "Chart of Accounts", key=True),
        "GLAccount": s(10, "G/L Account", key=True),
        "Language": s(2, "Language", key=True, is_language=True),
        "GLAccountName": s(50, "G/L Account Name", is_text=True),
        "GLAccountLongName": s(200, "G/L Account Long Name"),
    }, pattern="LANGUAGE_DEPENDENT_TEXT", exposed=False))
    b.add(sp, AssetKind.VIEW, "V_GL_ACCOUNT_TEXT", entity(
        "G/L Account Text", copy_elements(b.els(sp, "GL_ACCOUNT_TEXT")), pattern="LANGUAGE_DEPENDENT_TEXT", exposed=True,
        query=select(ref("GL_ACCOUNT_TEXT"), project_columns("GL_ACCOUNT_TEXT", b.els(sp, "GL_ACCOUNT_TEXT"))),
    ))
    gl = b.pick(sp, "GL_ACCOUNT", ["ChartOfAccounts", "GLAccount", "GLAccountType", "AccountGroup", "IsBalanceSheetAccount"],
                overrides={"ChartOfAccounts": {"@Analytics.dimension": True},
                           "GLAccount": {"@Analytics.dimension": True, "@ObjectModel.text.association": {"=": "_Text"}},
                           "GLAccountType": {"@Analytics.dimension": True}})
    gl["_Text"] = assoc("_Text", "V_GL_ACCOUNT_TEXT", [("ChartOfAccounts", "ChartOfAccounts"), ("GLAccount", "GLAccount")],
                        "G/L Account Texts")
    b.add(sp, AssetKind.VIEW, "V_GL_ACCOUNT_DIM", entity(
        "G/L Account", gl, pattern="ANALYTICAL_DIMENSION", capabilities=["ANALYTICAL_DIMENSION"], exposed=True,
        extra={"@ObjectModel.representativeKey": {"=": "GLAccount"}},
        query=select(ref("GL_ACCOUNT", "G"),
                     [*project_columns("G", b.els(sp, "GL_ACCOUNT"), [n for n in gl if not n.startswith("_")]),
                      {"ref": ["_Text"]}],
                     mixin={"_Text": assoc("_Text", "V_GL_ACCOUNT_TEXT",
                                           [("ChartOfAccounts", "ChartOfAccounts"), ("GLAccount", "GLAccount")],
                                           projection=True)}),
    ))
    b.add(sp, AssetKind.LOCAL_TABLE, "COST_CENTER", entity("Cost Center", {
        "ControllingArea": s(4, "Controlling Area", key=True),
        "CostCenter": s(10, "Cost Center", key=True),
        "ParentCostCenter": s(10, "Parent Cost Center"),
        "CostCenterName": s(40, "Cost Center Name"),
        "ValidFrom": el("cds.Date", "Valid From"),
        "ValidTo": el("cds.Date", "Valid To"),
        "Responsible": s(12, "Person Responsible"),
    }, exposed=False))
    cc = b.pick(sp, "COST_CENTER", ["ControllingArea", "CostCenter", "ParentCostCenter", "CostCenterName", "Responsible"],
                overrides={"ControllingArea": {"@Analytics.dimension": True},
                           "CostCenter": {"@Analytics.dimension": True, "@ObjectModel.text.element": [{"=": "CostCenterName"}]},
                           "ParentCostCenter": {"@ObjectModel.foreignKey.association": {"=": "_Parent"}},
                           "CostCenterName": {"@Semantics.text": True}})
    cc["_Parent"] = assoc("_Parent", "V_COST_CENTER_DIM", [("ControllingArea", "ControllingArea"),
                                                          ("ParentCostCenter", "CostCenter")], "Parent Cost Center")
    b.add(sp, AssetKind.VIEW, "V_COST_CENTER_DIM", entity(
        "Cost Center", cc, pattern="ANALYTICAL_DIMENSION", capabilities=["ANALYTICAL_DIMENSION"], exposed=True,
        extra={"@Hierarchy.parentChild": [{"name": "CC_HIER", "label": "Cost Center Hierarchy",
                                           "recurse": {"parent": [{"=": "ParentCostCenter"}], "child": [{"=": "CostCenter"}]}}]},
        query=select(ref("COST_CENTER", "K"),
                     [*project_columns("K", b.els(sp, "COST_CENTER"), [n for n in cc if not n.startswith("_")]),
                      {"ref": ["_Parent"]}],
                     mixin={"_Parent": assoc("_Parent", "V_COST_CENTER_DIM",
                                             [("ControllingArea", "ControllingArea"), ("ParentCostCenter", "CostCenter")],
                                             projection=True)},
                     where=[{"ref": ["K", "ValidTo"]}, ">=", {"func": "CURRENT_DATE"}]),
    ))
    b.add(sp, AssetKind.LOCAL_TABLE, "JOURNAL_ENTRY_ITEM", entity("Journal Entry Item", {
        "CompanyCode": s(4, "Company Code", key=True),
        "FiscalYear": el("cds.hana.SMALLINT", "Fiscal Year", key=True),
        "AccountingDocument": s(10, "Journal Entry", key=True),
        "LedgerGLLineItem": s(6, "Line Item", key=True),
        "ChartOfAccounts": s(4, "Chart of Accounts"),
        "GLAccount": s(10, "G/L Account"),
        "ControllingArea": s(4, "Controlling Area"),
        "CostCenter": s(10, "Cost Center"),
        "PostingDate": el("cds.Date", "Posting Date"),
        "PostingTime": el("cds.Time", "Posting Time"),
        "AmountInCompanyCodeCurrency": dec(23, 2, "Amount in Company Code Currency", currency="CompanyCodeCurrency"),
        "CompanyCodeCurrency": s(5, "Company Code Currency", is_currency=True),
        "AmountInGlobalCurrency": el("cds.DecimalFloat", "Amount in Global Currency", currency="GlobalCurrency"),
        "GlobalCurrency": s(5, "Global Currency", is_currency=True),
        "Quantity": dec(13, 3, "Quantity", unit="BaseUnit"),
        "BaseUnit": s(3, "Base Unit", is_unit=True),
        "DocumentItemText": s(50, "Item Text"),
        "ExchangeRate": el("hana.REAL", "Exchange Rate"),
        "IsReversal": el("cds.Boolean", "Reversal"),
        "CreatedBy": s(12, "Created By"),
        "DocumentUUID": el("cds.UUID", "Document UUID"),
        "ErrorCount": el("cds.Integer", "Error Count"),
        "SequenceNo": el("cds.Integer64", "Sequence Number"),
    }, exposed=False))
    b.add(sp, AssetKind.REMOTE_TABLE, "RT_FX_RATES", entity("Exchange Rates (S/4HANA)", {
        "ExchangeRateType": s(4, "Exchange Rate Type", key=True),
        "FromCurrency": s(5, "From Currency", key=True, is_currency=True),
        "ToCurrency": s(5, "To Currency", key=True, is_currency=True),
        "ValidFrom": el("cds.Date", "Valid From", key=True),
        "ExchangeRate": dec(9, 5, "Exchange Rate"),
        "RatioFrom": el("cds.hana.TINYINT", "Ratio From"),
        "RatioTo": el("cds.hana.TINYINT", "Ratio To"),
        "RateSource": el("hana.NCHAR", "Rate Source", length=4),
    }, exposed=True, extra=_remote("I_ExchangeRateRawData")))
    b.add(sp, AssetKind.LOCAL_TABLE, "FX_RATES_LOCAL", entity(
        "Exchange Rates", copy_elements(b.els(sp, "RT_FX_RATES")), exposed=True))

    je = b.els(sp, "JOURNAL_ENTRY_ITEM")
    jf = b.pick(sp, "JOURNAL_ENTRY_ITEM", list(je), overrides={
        "GLAccount": {"@Analytics.dimension": True, "@ObjectModel.foreignKey.association": {"=": "_GLAccount"}},
        "CostCenter": {"@Analytics.dimension": True, "@ObjectModel.foreignKey.association": {"=": "_CostCenter"}},
        "PostingDate": {"@Analytics.dimension": True, "@ObjectModel.foreignKey.association": {"=": "_PostingDate"}},
        "CompanyCode": {"@Analytics.dimension": True},
        "AmountInCompanyCodeCurrency": {"@AnalyticsDetails.measureType": {"#": "BASE"}, "@Aggregation.default": {"#": "SUM"}},
        "AmountInGlobalCurrency": {"@AnalyticsDetails.measureType": {"#": "BASE"}, "@Aggregation.default": {"#": "SUM"}},
        "Quantity": {"@AnalyticsDetails.measureType": {"#": "BASE"}, "@Aggregation.default": {"#": "SUM"}},
    })
    links = {
        "_GLAccount": ("V_GL_ACCOUNT_DIM", [("ChartOfAccounts", "ChartOfAccounts"), ("GLAccount", "GLAccount")]),
        "_CostCenter": ("V_COST_CENTER_DIM", [("ControllingArea", "ControllingArea"), ("CostCenter", "CostCenter")]),
        "_PostingDate": ("MASTER_DATA.V_TIME_DIM_DAY", [("PostingDate", "DateSQL")]),
    }
    for name, (target, pairs) in links.items():
        jf[name] = assoc(name, target, pairs, f"to {target}")
    b.add(sp, AssetKind.VIEW, "V_JOURNAL_FACT", entity(
        "Journal Entries", jf, pattern="ANALYTICAL_FACT", capabilities=["ANALYTICAL_FACT", "ANALYTICAL_PROVIDER"],
        exposed=True,
        query=select(ref("JOURNAL_ENTRY_ITEM", "J"),
                     [*project_columns("J", je), *({"ref": [n]} for n in links)],
                     mixin={n: assoc(n, t, p, projection=True) for n, (t, p) in links.items()}),
    ), cross=["MASTER_DATA"], editor=_editor("V_JOURNAL_FACT"))

    # Cross-space view: reads SALES.V_ORDERS.
    recon: Json = {
        "SalesOrder": s(10, "Sales Order", key=True),
        "OrderDate": el("cds.Date", "Order Date"),
        "Customer Name": s(80, "Customer Name"),
        "TotalNetAmount": dec(15, 2, "Ordered Amount", currency="CompanyCodeCurrency"),
        "PostedAmount": dec(23, 2, "Posted Amount", currency="CompanyCodeCurrency"),
        "CompanyCodeCurrency": s(5, "Company Code Currency", is_currency=True),
        "Difference": dec(23, 2, "Difference", currency="CompanyCodeCurrency"),
    }
    b.add(sp, AssetKind.VIEW, "V_REVENUE_RECON", entity(
        "Revenue Reconciliation", recon, exposed=True,
        query=select(
            join("inner", ref("SALES.V_ORDERS", "O"), ref("JOURNAL_ENTRY_ITEM", "J"), [("O.SalesOrder", "J.AccountingDocument")]),
            [col("O", "SalesOrder", key=True), col("O", "OrderDate"), col("O", "Customer Name"),
             col("O", "TotalNetAmount"), col("J", "AmountInCompanyCodeCurrency", alias="PostedAmount"),
             col("J", "CompanyCodeCurrency"),
             {"xpr": [{"ref": ["O", "TotalNetAmount"]}, "-", {"ref": ["J", "AmountInCompanyCodeCurrency"]}], "as": "Difference"}],
        ),
    ), cross=["SALES"])

    definition, bl = analytic_model(
        name="AM_FINANCE_PNL", label="Profit and Loss", fact_alias="0", fact_key="V_JOURNAL_FACT",
        fact_label="Journal Entries", fact_elements=jf,
        fact_attributes=["CompanyCode", "FiscalYear", "ChartOfAccounts", "GLAccount", "ControllingArea", "CostCenter",
                         "PostingDate", "CompanyCodeCurrency", "GlobalCurrency"],
        measures=["AmountInCompanyCodeCurrency", "AmountInGlobalCurrency"],
        dimensions=[
            {"key": "_GLAccount", "assoc": "_GLAccount", "fk": "GLAccount", "target": "V_GL_ACCOUNT_DIM",
             "target_elements": b.els(sp, "V_GL_ACCOUNT_DIM"), "attributes": ["GLAccountType", "AccountGroup"]},
            {"key": "1", "assoc": "_CostCenter", "fk": "CostCenter", "target": "V_COST_CENTER_DIM",
             "target_elements": b.els(sp, "V_COST_CENTER_DIM"), "attributes": ["CostCenterName", "Responsible"],
             "renames": {"Responsible": "CostCenterResponsible"}},
        ],
        variables={"P_FISCAL_YEAR": {"text": "Fiscal Year", "parameterType": "AnalyticModelParameterType.Input",
                                     "dataType": {"type": "cds.hana.SMALLINT"}, "defaultValue": "2024",
                                     "mandatory": True, "order": 1}},
    )
    b.add(sp, AssetKind.ANALYTIC_MODEL, "AM_FINANCE_PNL", definition, business_layer=bl)

    # Cross-space fact source, legacy business-layer spelling (sourceKey + key on measures).
    sales_fact = b.els("SALES", "V_SALES_ORDER_ITEMS")
    definition, bl = analytic_model(
        name="AM_SALES_MARGIN", label="Sales Margin (Finance)", fact_alias="SalesItems",
        fact_key="SALES.V_SALES_ORDER_ITEMS", fact_label="Sales Order Items (Sales space)", fact_elements=sales_fact,
        fact_attributes=["SalesOrder", "Customer", "SalesOrganization", "OrderYear", "TransactionCurrency"],
        measures=["NetAmount", "CostAmount"],
        dimensions=[
            {"key": "0", "assoc": "_Customer", "fk": "Customer", "target": "SALES.V_CUSTOMER_DIM",
             "target_elements": b.els("SALES", "V_CUSTOMER_DIM"), "attributes": ["Country"]},
        ],
        calculated=[
            {"name": "Margin", "label": "Margin", "formula": "NetAmount - CostAmount", "uses": ["NetAmount", "CostAmount"]},
            {"name": "MarginPct", "label": "Margin %", "formula": "Margin / NetAmount * 100", "uses": ["Margin", "NetAmount"]},
        ],
        bl_version="1.3.1",
    )
    b.add(sp, AssetKind.ANALYTIC_MODEL, "AM_SALES_MARGIN", definition, business_layer=bl, cross=["SALES"])

    b.add(sp, AssetKind.DATA_FLOW, "DF_FX_RATES_LOAD",
          data_flow("Load exchange rates", ["RT_FX_RATES"], "FX_RATES_LOCAL", mode="UPSERT"))


# -- HR ----------------------------------------------------------------------------------------


def _hr(b: _Builder) -> None:
    sp = "HR"
    b.add(sp, AssetKind.LOCAL_TABLE, "EMPLOYEE", entity("Employee", {
        "EmployeeID": s(8, "Employee ID", key=True),
        "FirstName": s(40, "First Name"),
        "LastName": s(40, "Last Name"),
        "Email": s(241, "E-Mail"),
        "HireDate": el("cds.Date", "Hire Date"),
        "BirthDate": el("cds.Date", "Birth Date"),
        "Gender": el("hana.CHAR", "Gender", length=1),
        "OrgUnit": s(8, "Organizational Unit"),
        "JobCode": s(8, "Job Code"),
        "FTE": dec(5, 2, "Full-Time Equivalent"),
        "EmploymentPercent": el("cds.hana.TINYINT", "Employment %"),
        "AnnualSalary": dec(15, 2, "Annual Salary", currency="SalaryCurrency"),
        "SalaryCurrency": s(5, "Salary Currency", is_currency=True),
        "IsManager": el("cds.Boolean", "Manager"),
        "WorkLocation": el("cds.hana.ST_POINT", "Work Location", srid=4326),
        "PersonUUID": el("cds.UUID", "Person UUID"),
        "Photo": el("cds.LargeBinary", "Photo"),
        "Notes": el("hana.CLOB", "Notes"),
        "ShiftStart": el("cds.Time", "Shift Start"),
    }, exposed=False))
    b.add(sp, AssetKind.LOCAL_TABLE, "ORG_UNIT", entity("Organizational Unit", {
        "OrgUnit": s(8, "Organizational Unit", key=True),
        "ParentOrgUnit": s(8, "Parent Unit"),
        "OrgUnitName": s(60, "Unit Name"),
        "CostCenter": s(10, "Cost Center"),
        "Manager": s(8, "Manager"),
    }, exposed=True))
    emp = b.els(sp, "EMPLOYEE")
    edim: Json = {
        "EmployeeID": {**copy.deepcopy(emp["EmployeeID"]), "@Analytics.dimension": True,
                       "@ObjectModel.text.element": [{"=": "FullName"}]},
        "FullName": s(81, "Full Name", is_text=True),
        "Gender": {**copy.deepcopy(emp["Gender"]), "@Analytics.dimension": True},
        "OrgUnit": s(8, "Organizational Unit", dim=True),
        "OrgUnitName": s(60, "Unit Name", dim=True),
        "JobCode": s(8, "Job Code", dim=True),
        "HireDate": el("cds.Date", "Hire Date", calendar="date"),
    }
    b.add(sp, AssetKind.VIEW, "V_EMPLOYEE_DIM", entity(
        "Employee", edim, pattern="ANALYTICAL_DIMENSION", capabilities=["ANALYTICAL_DIMENSION"], exposed=True,
        extra={"@Hierarchy.leveled": [{"name": "ORG", "label": "Unit, Employee", "levels": [
            {"element": {"=": "OrgUnit"}}, {"element": {"=": "EmployeeID"}}]}]},
        query=select(
            join("left", ref("EMPLOYEE", "E"), ref("ORG_UNIT", "O"), [("E.OrgUnit", "O.OrgUnit")]),
            [col("E", "EmployeeID", key=True),
             {"func": "CONCAT", "args": [{"ref": ["E", "FirstName"]}, {"ref": ["E", "LastName"]}], "as": "FullName"},
             col("E", "Gender"), col("E", "OrgUnit"), col("O", "OrgUnitName"), col("E", "JobCode"), col("E", "HireDate")]),
    ))
    hfact: Json = {
        "EmployeeID": s(8, "Employee ID", key=True, fk="_Employee", dim=True),
        "OrgUnit": s(8, "Organizational Unit", dim=True),
        "HireDate": el("cds.Date", "Hire Date"),
        "Gender": el("hana.CHAR", "Gender", length=1, dim=True),
        "Headcount": el("cds.Integer", "Headcount", measure="SUM"),
        "FTE": dec(5, 2, "Full-Time Equivalent", measure="SUM"),
        "AnnualSalary": dec(15, 2, "Annual Salary", currency="SalaryCurrency", measure="SUM"),
        "SalaryCurrency": s(5, "Salary Currency", is_currency=True),
        "_Employee": assoc("_Employee", "V_EMPLOYEE_DIM", [("EmployeeID", "EmployeeID")], "to Employee"),
    }
    b.add(sp, AssetKind.VIEW, "V_HEADCOUNT_FACT", entity(
        "Headcount", hfact, pattern="ANALYTICAL_FACT", capabilities=["ANALYTICAL_FACT", "ANALYTICAL_PROVIDER"],
        exposed=True,
        query=select(ref("EMPLOYEE", "E"),
                     [col("E", "EmployeeID", key=True), col("E", "OrgUnit"), col("E", "HireDate"), col("E", "Gender"),
                      {"val": 1, "as": "Headcount", "cast": {"type": "cds.Integer"}}, col("E", "FTE"),
                      col("E", "AnnualSalary"), col("E", "SalaryCurrency"), {"ref": ["_Employee"]}],
                     mixin={"_Employee": assoc("_Employee", "V_EMPLOYEE_DIM", [("EmployeeID", "EmployeeID")],
                                               projection=True)}),
    ))
    definition, bl = analytic_model(
        name="AM_HEADCOUNT", label="Headcount Analysis", fact_alias="V_HEADCOUNT_FACT", fact_key="V_HEADCOUNT_FACT",
        fact_label="Headcount", fact_elements=hfact,
        fact_attributes=["EmployeeID", "OrgUnit", "Gender", "SalaryCurrency"],
        measures=["Headcount", "FTE", "AnnualSalary"],
        dimensions=[{"key": "0", "assoc": "_Employee", "fk": "EmployeeID", "target": "V_EMPLOYEE_DIM",
                     "target_elements": edim, "attributes": ["OrgUnitName", "JobCode"]}],
        count_distinct=[{"name": "DistinctOrgUnits", "label": "Number of Units", "attributes": ["OrgUnit"]}],
        calculated=[{"name": "AvgSalary", "label": "Average Salary", "formula": "AnnualSalary / Headcount",
                     "uses": ["AnnualSalary", "Headcount"]},
                    {"name": "SalaryHelper", "label": "Salary (helper)", "formula": "AnnualSalary",
                     "uses": ["AnnualSalary"], "auxiliary": True}],
    )
    b.add(sp, AssetKind.ANALYTIC_MODEL, "AM_HEADCOUNT", definition, business_layer=bl)
    b.add(sp, AssetKind.LOCAL_TABLE, "HEADCOUNT_SNAPSHOT", entity("Headcount Snapshot", {
        "SnapshotDate": el("cds.Date", "Snapshot Date", key=True),
        "OrgUnit": s(8, "Organizational Unit", key=True),
        "Headcount": el("cds.Integer", "Headcount"),
        "FTE": dec(9, 2, "Full-Time Equivalent"),
    }, exposed=False))
    b.add(sp, AssetKind.DATA_FLOW, "DF_HR_SNAPSHOT",
          data_flow("Monthly headcount snapshot", ["EMPLOYEE", "ORG_UNIT"], "HEADCOUNT_SNAPSHOT", mode="TRUNCATE"))
