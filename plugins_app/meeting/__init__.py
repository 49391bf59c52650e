"""Meeting v1: signed action plans from the remote Meeting service, checked, previewed,
confirmed by a person and audited.
"""

__all__ = ["plans"]
