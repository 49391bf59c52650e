"""Jupiter's product version: the one source (``pyproject.toml`` reads it from here).

``PLUGIN_API_VERSIONS`` are the plugin APIs this host implements: its own (1.2) and the
original Jupiter's (1.8), which ``sdk.compat`` adapts inside the plugin process. A plugin's
``jupiter_version`` is checked against the product version and against these, so a plugin
written for the original Jupiter 1.8 (``>=1.8.0``) runs here.
"""

JUPITER_VERSION = "1.2.0"
PLUGIN_API_VERSIONS = ("1.2", "1.8")
