"""Prompts: ready-made starts for the questions people ask most."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from mcp_server.context import McpContext


def register(server: MCPServer[McpContext]) -> None:
    @server.prompt(name="explain_asset", title="Explain this asset")
    def explain_asset(space: str, name: str) -> str:
        """Explain a Datasphere asset and its Glue table to a business user."""
        return (
            f"Explain the SAP Datasphere asset {space}.{name} to a business user.\n"
            f"1. Call get_asset(space={space!r}, name={name!r}) (or read the resource "
            f"dgsync://datasphere/{space}/{name}).\n"
            "2. Say what it is (kind, business label, description, modeling pattern), its measures "
            "(with aggregation, currency or unit), dimensions and hierarchies, and its key.\n"
            f"3. Call get_lineage(object='{space}.{name}', direction='both', depth=2) and say where "
            "its data comes from and who uses it.\n"
            "4. Say which Glue table it is in (database.table), whether that table is in sync "
            "column by column (the status of each column pair), and how to query it in Athena.\n"
            "Quote technical names exactly; do not invent columns."
        )

    @server.prompt(name="why_did_this_run_fail", title="Why did this run fail")
    def why_did_this_run_fail(run_id: str) -> str:
        """Diagnose a failed or partial sync run and say how to fix it."""
        return (
            f"Find out why the dgsync run {run_id} did not succeed, and what to do about it.\n"
            f"1. Call get_run(run_id={run_id!r}, items='failed') and read its errors and each "
            "failed item's error and hint.\n"
            "2. Group the failures by cause (authentication, throttling, Glue limits, ownership "
            "conflicts, mapping errors, extraction errors).\n"
            "3. For objects involved, call get_asset or get_glue_table when it helps; call "
            f"search_audit(run_id={run_id!r}) for what the run wrote.\n"
            "4. Answer: what failed, why, what the hints say to do, and whether a re-run "
            "(plan_sync first) is likely to succeed. Do not speculate beyond the evidence."
        )
