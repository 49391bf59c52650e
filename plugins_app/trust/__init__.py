"""Whether plugin files may be trusted: signatures over every file, the trust policy,
safe archive extraction and catalogue indexes. Installing and updating, which also load
code, are ``lifecycle``'s.
"""

__all__ = ["archives", "catalogue", "policy", "signing"]
