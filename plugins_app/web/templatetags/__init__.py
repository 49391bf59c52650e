"""Inclusion tags that put a section on a page in one template line."""

__all__ = ["jupiter_extras", "jupiter_jobs", "jupiter_trust"]
