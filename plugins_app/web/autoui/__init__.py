"""Auto-UI: what the console generates for every plugin from its manifest (SPEC U2-U7).

- ``schema``: how a JSON Schema property is shown and read (kinds, labels);
- ``forms``: ``config_schema.schema`` -> a tree of form fields, rendered server-side;
- ``submit``: a posted form -> config values, and the layer (global or project) to store;
- ``contributions``: panels, widgets and scoped CSS declared in the manifest.

Metrics and logs, which the auto-UI shows, are collected by ``observability`` and ``logs``.
"""

__all__ = ["contributions", "forms", "schema", "submit"]
