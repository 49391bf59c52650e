"""What plugin code sees of Jupiter: the Bridge contract, its errors, the sandboxed services'
interfaces, the event bus and plain values; and how plugin code is imported.

No Django and nothing above the manifest: the Bridge double (``authoring``) and, later, a
plugin's own process use it without a host database.
"""

__all__ = [
    "bridge",
    "confinement",
    "errors",
    "events",
    "linux",
    "loading",
    "progress",
    "sandbox",
    "values",
]
