"""What several benchmarks set up the same way: a migrated database with the plugin folders
synced, one project enabling some plugins, and a logged-in user's session cookie (so the
timed requests skip the login form). Django must be configured by the caller's environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def prepare(root: Path, prefix: str, limit: int | None = None, *, superuser: bool = False) -> Any:
    """Migrate, sync plugins, create user ``bench`` and project ``bench`` rooted in
    ``root / "project"`` (``bench`` owns it) enabling plugins whose id starts with ``prefix``
    (at most ``limit``); returns the project."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from plugins_app.base import conf
    from plugins_app.models import InstalledPlugin, Project, ProjectPlugin, ProjectRole
    from plugins_app.projects.roles import grant
    from plugins_app.registry.discovery import discover
    from plugins_app.registry.sync import sync_installed_plugins

    call_command("migrate", verbosity=0)
    sync_installed_plugins(discover(conf.get().plugin_dirs))
    create = User.objects.create_superuser if superuser else User.objects.create_user
    user = create("bench", password="bench-pw-123")
    (root / "project").mkdir()
    project = Project.objects.create(name="bench", root_path=str(root / "project"))
    grant(project, user, ProjectRole.OWNER)
    plugins = InstalledPlugin.objects.filter(plugin_id__startswith=prefix).order_by("plugin_id")
    ProjectPlugin.objects.bulk_create(
        ProjectPlugin(project=project, plugin=plugin, enabled=True)
        for plugin in (plugins[:limit] if limit is not None else plugins)
    )
    return project


def session_cookie() -> str:
    """A saved session for user ``bench``, as the ``Cookie`` header value."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    user = User.objects.get(username="bench")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
