"""``plugin.yaml`` as data: hardened YAML, the published JSON Schema, the dialects of
real-world manifests, and the typed, frozen ``Manifest`` every other layer works with.

No Django and no plugin code: a manifest is read, never executed.
"""

__all__ = ["dialects", "model", "reference", "safe_yaml", "schema"]
