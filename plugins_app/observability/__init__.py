"""What people watch: health checks, metrics, notifications (the bell) and problem
reports.
"""

__all__ = ["health", "metrics", "notifications", "problem_report"]
