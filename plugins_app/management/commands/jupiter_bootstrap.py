"""``manage.py jupiter_bootstrap``: what ``make run`` needs after migrating.

Syncs the bundled plugins, registers the demo project and makes sure an admin login exists,
printing its credentials. Idempotent: running it again changes nothing that exists.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser

from plugins_app.config.store import set_plugin_overrides
from plugins_app.kernel.runtime import boot
from plugins_app.models import InstalledPlugin, Project, ProjectRole
from plugins_app.projects.roles import grant, role_of
from plugins_app.projects.service import register_project


class Command(BaseCommand):
    help = "Sync bundled plugins, register the demo project and ensure an admin login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo-root", default=str(settings.BASE_DIR / "examples" / "demo"))
        parser.add_argument("--demo-name", default="demo")
        parser.add_argument("--admin-user", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        runtime = boot()
        self.stdout.write(f"Plugins synced: {len(runtime.manifests)} loadable.")
        admin = self._ensure_admin(options["admin_user"])
        name, root = options["demo_name"], Path(options["demo_root"]).resolve()
        project = Project.objects.filter(name=name).first()
        if project is None:
            project = register_project(name, root, actor=admin)
            self.stdout.write(f"Demo project '{name}' registered at {root}, owned by {admin}.")
            self._tune_demo(project)
        elif role_of(admin, project) is None:
            grant(project, admin, ProjectRole.OWNER)

    def _tune_demo(self, project: Project) -> None:
        """The demo is small: a lower complexity threshold makes its analysis find something."""
        if InstalledPlugin.objects.filter(plugin_id="code_analyzer").exists():
            set_plugin_overrides(project, "code_analyzer", {"max_complexity": 4})

    def _ensure_admin(self, username: str) -> User:
        """Print a working login: JUPITER_ADMIN_PASSWORD, else one generated once and kept."""
        users = get_user_model()
        password_file = Path(settings.VAR_DIR) / "admin_password"
        wanted = os.environ.get("JUPITER_ADMIN_PASSWORD")
        user = users.objects.filter(username=username).first()
        if user is None:
            password = wanted or secrets.token_urlsafe(12)
            user = users.objects.create_superuser(username, password=password)
            if not wanted:
                password_file.write_text(password)
                password_file.chmod(0o600)
        elif wanted:
            user.set_password(wanted)
            user.save(update_fields=["password"])
            password = wanted
        elif password_file.exists() and user.check_password(password_file.read_text()):
            password = password_file.read_text()
        else:
            self.stdout.write(f"Admin login: {username} (password unchanged since you set it)")
            return user
        self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {password}"))
        return user
