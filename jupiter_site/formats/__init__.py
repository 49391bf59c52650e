"""Date and number formats of the console (``FORMAT_MODULE_PATH``): ISO 8601 dates."""
