"""Bundled plugin: static measurements of a project's Python code."""
