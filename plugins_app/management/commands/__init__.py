"""``manage.py`` commands: jupiter_bootstrap, jupiter_plugins, jupiter_scaffold, jupiter_docs."""
