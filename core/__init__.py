"""dgsync core: the sync library shared by every frontend (CLI, Dog, Wolf, Bear, MCP)."""

__version__ = "0.1.0"
