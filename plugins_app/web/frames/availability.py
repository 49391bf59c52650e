"""Whether anything of a plugin may be served (SPEC U5, X2, X4): its frames, their assets,
its API routes and its event stream.

Only for a plugin that is ``ready`` (loaded after its trust check, not failing), loaded in
this process, still allowed by the trust policy, and enabled in a project the user can see
(staff see every project); for a frame shown on a project's page, enabled in that project.
Everything else answers 404 with the reason, which the console shows as the panel's
disabled state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import InstalledPlugin, PluginStatus, Project, ProjectPlugin, TrustLevel
from plugins_app.projects.roles import projects_visible_to
from plugins_app.trust.policy import policy_refusal

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def unavailable(
    plugin: InstalledPlugin,
    user: User | AnonymousUser,
    project: Project | None = None,
    *,
    loaded: bool | None = None,
) -> str | None:
    """Why nothing of ``plugin`` is served to ``user`` (in ``project``), or None.

    ``loaded`` says whether this process runs the plugin; None asks the runtime.
    """
    if plugin.status != PluginStatus.READY:
        reason = f": {plugin.status_reason}" if plugin.status_reason else ""
        return f"{plugin.name} is {plugin.get_status_display().lower()}{reason}"
    refusal = policy_refusal(TrustLevel(plugin.trust_level))
    if refusal is not None:
        return f"{plugin.name} is not trusted: {refusal}"
    enabling = ProjectPlugin.objects.filter(plugin=plugin, enabled=True)
    if project is not None:
        if not enabling.filter(project=project).exists():
            return f"{plugin.name} is not enabled in {project.name}"
    elif not projects_visible_to(user).filter(pk__in=enabling.values("project")).exists():
        return f"{plugin.name} is not enabled in any project you can see"
    if loaded is None:
        loaded = get_runtime().bridge.registration(plugin.plugin_id) is not None
    if not loaded:
        return f"{plugin.name} is not loaded yet"
    return None
