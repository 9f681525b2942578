"""Dog: the Flask + htmx developer UI over the embedded default."""
