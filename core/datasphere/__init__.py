"""Datasphere side: OAuth, HTTP client, CSN and $metadata parsing, extraction, emulator."""
