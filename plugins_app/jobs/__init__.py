"""Jobs: the API plugins write against, the executor, live events, the circuit breaker
and the host's own scan and analysis.
"""

__all__ = ["api", "breaker", "events", "executor", "findings", "scan"]
