"""What a web process runs beside its requests, started once by the ASGI entry point.

A web process only follows the deployment (the change feed), publishes the log lines of the
plugin processes it runs (``logs.feed.LogPublisher``), removes plugin log files past their
retention (as workers do: harmless twice) and, in developer mode, picks up hot reload
requests. The periodic work that must happen once per deployment (health checks,
retrying the jobs of stopped workers, importing hand edits of project files) is the
workers' (``management.worker``): web processes never run jobs.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.signals import request_finished

from plugins_app.base import conf
from plugins_app.base.fsutil import sweep_temp_files
from plugins_app.jobs.relay import RELAY_SECONDS, JobRelay
from plugins_app.kernel.feed import Follower
from plugins_app.kernel.reload import ReloadWatcher
from plugins_app.kernel.runtime import get_runtime
from plugins_app.logs.feed import LogPublisher, publisher_for
from plugins_app.logs.hub import prune_log_files
from plugins_app.projects.service import sweep_project_temp_files

__all__ = [
    "RELOAD_POLL_SECONDS",
    "start_log_publisher",
    "start_server_services",
    "sweep_interrupted_writes",
]

log = logging.getLogger("jupiter.server")
RELOAD_POLL_SECONDS = 1.0
LOG_PRUNE_SECONDS = 3600.0


def start_server_services() -> None:
    """For a web process, after ``runtime.boot()``: follow the feed, relay job events when
    the channel layer cannot carry the workers' own; in developer mode, pick up hot-reload
    requests made by the CLI or another process (L6); remove plugin log files past their
    retention (hourly, first at the scheduler's first pass)."""
    runtime = get_runtime()
    request_finished.connect(_serving, dispatch_uid="server.serving")
    sweep_interrupted_writes()
    runtime.component(Follower, lambda: Follower(runtime)).follow()
    start_log_publisher()
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        relay = runtime.component(JobRelay, JobRelay)
        runtime.scheduler.every("job-events", RELAY_SECONDS, relay.tick)
    if conf.get().developer_mode:
        runtime.scheduler.every("reload-requests", RELOAD_POLL_SECONDS, ReloadWatcher(runtime).tick)
    runtime.scheduler.every("prune-logs", LOG_PRUNE_SECONDS, prune_log_files)
    runtime.scheduler.start()


def _serving(**kwargs: Any) -> None:
    """The first answer lets the plugin processes left to start in the background start."""
    get_runtime().starts.serving()
    request_finished.disconnect(dispatch_uid="server.serving")


def start_log_publisher() -> LogPublisher:
    """Publish this process's plugin log lines whether or not a viewer is connected here
    (through a layer that crosses processes; else keep the files current for the viewers'
    followers). Owned by the runtime, so a reset stops it."""
    layer = get_channel_layer()
    return get_runtime().component(LogPublisher, lambda: publisher_for(layer)).start()


def sweep_interrupted_writes() -> int:
    """Remove what atomic writes killed mid-way left behind, in var/ and every project root.

    Only a ``kill -9`` or a power loss between creating a temporary file and renaming it
    leaves one (a normal error removes it); older than a minute, it belongs to no write in
    flight in another server process. Returns how many were removed.
    """
    removed = sweep_temp_files([conf.get().var_dir], recursive=True)
    removed += sweep_project_temp_files()
    for path in removed:
        log.warning("removed %s, left by a write interrupted by a crash", path)
    return len(removed)
