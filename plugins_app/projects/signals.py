"""Signals other parts of the host listen to.

``project_plugins_changed`` tells the registry (and anything else caching which plugins a
project runs) that enabled flags changed, whether from the console or from a hand-edited
``<project>.jupiter.yaml``. It is sent on commit: a receiver that reads the database must see
the new state, and a rolled-back change must not be announced.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import Signal

from plugins_app.base.signals import send_on_commit
from plugins_app.models import Project

# Sent with sender=Project, project=<Project>, plugin_ids=frozenset[str].
project_plugins_changed = Signal()


def notify_project_plugins_changed(project: Project, plugin_ids: Iterable[str]) -> None:
    """Send ``project_plugins_changed`` once the current transaction commits (now if none).

    Receivers run after the change is committed, so one that fails cannot undo it; its error
    is logged instead of surfacing as a failed save to the person who made the change.
    """
    ids = frozenset(plugin_ids)
    if ids:
        send_on_commit(project_plugins_changed, Project, project=project, plugin_ids=ids)
