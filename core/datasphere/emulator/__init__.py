"""The Datasphere emulator: the documented SAP API served over real HTTP (not part of SAP)."""
