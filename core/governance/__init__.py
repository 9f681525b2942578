"""Governance services: audit (query, export, retention), security events and detection
rules, alerts (rules, channels, escalation, dedup, ack, mute). Framework-free; see
``docs/governance.md``.

:mod:`core.governance.events` is imported by the HTTP/AWS clients and must stay free of
store imports.
"""
