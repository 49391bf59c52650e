"""Management commands: the command line of the same services the console uses."""
