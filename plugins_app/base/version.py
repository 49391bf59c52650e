"""Jupiter's product version: the one source (``pyproject.toml`` reads it from here)."""

JUPITER_VERSION = "1.2.0"
