"""What a web process runs beside its requests, started once by the ASGI entry point.

A web process only follows the deployment (the change feed) and, in developer mode, the hot
reload requests. The periodic work that must happen once per deployment (health checks,
retrying the jobs of stopped workers, importing hand edits of project files) is the
workers' (``management.worker``): web processes never run jobs.
"""

from __future__ import annotations

from channels.layers import InMemoryChannelLayer, get_channel_layer

from plugins_app.base import conf
from plugins_app.jobs.relay import RELAY_SECONDS, JobRelay
from plugins_app.kernel.feed import Follower
from plugins_app.kernel.reload import ReloadWatcher
from plugins_app.kernel.runtime import get_runtime

__all__ = ["RELOAD_POLL_SECONDS", "start_server_services"]

RELOAD_POLL_SECONDS = 1.0


def start_server_services() -> None:
    """For a web process, after ``runtime.boot()``: follow the feed, relay job events when
    the channel layer cannot carry the workers' own; in developer mode, pick up hot-reload
    requests made by the CLI or another process (L6)."""
    runtime = get_runtime()
    runtime.component(Follower, lambda: Follower(runtime)).follow()
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        relay = runtime.component(JobRelay, JobRelay)
        runtime.scheduler.every("job-events", RELAY_SECONDS, relay.tick)
    if conf.get().developer_mode:
        runtime.scheduler.every("reload-requests", RELOAD_POLL_SECONDS, ReloadWatcher(runtime).tick)
    runtime.scheduler.start()
