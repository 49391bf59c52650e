"""Jupiter's plugin host: discovery, registry, Bridge, lifecycle and console.

The sub-packages are layers, each importing only those below it (``tests/test_layers.py``
keeps it so); the README's "How it is built" is the map.
"""
