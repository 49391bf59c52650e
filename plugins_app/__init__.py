"""Jupiter's plugin host: discovery, registry, Bridge, lifecycle and console."""

JUPITER_VERSION = "1.2.0"
