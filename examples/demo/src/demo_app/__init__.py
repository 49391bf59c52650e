"""A tiny inventory app used as Jupiter's demo project."""
