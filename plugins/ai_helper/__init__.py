"""Bundled plugin: prioritised suggestions and a for-AI bundle, offline."""
