"""The console's views, one module per area (the NetBox split).

- ``plugins``: the plugin list and a plugin's page, with per-project toggles;
- ``projects``: project list, registration, a project's page, toggles and conflicts;
- ``api``: the plugin list as JSON.

Every view requires login (``LoginRequiredMiddleware``); state changes are POST-only and
CSRF-checked, HTMX requests included (the token rides in ``hx-headers``).
"""
