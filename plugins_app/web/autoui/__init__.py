"""Auto-UI: what the console generates for every plugin from its manifest (SPEC U2-U7, O1, O2).

- ``schema``: how a JSON Schema property is shown and read (kinds, secrets, labels);
- ``forms``: ``config_schema.schema`` -> a tree of form fields, rendered server-side;
- ``submit``: a posted form -> config values, and the layer (global or project) to store;
- ``metrics``: lazy, time-boxed collection of a plugin's ``metrics`` hook, Prometheus text;
- ``logs``: per-plugin log files, the global aggregate and the bounded live feed;
- ``contributions``: panels, widgets and scoped CSS declared in the manifest.

No plugin author writes JavaScript for any of it.
"""
