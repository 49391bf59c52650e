"""``manage.py jupiter_worker``: run jobs and the plugins' processes (see management.worker)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from plugins_app.base import conf
from plugins_app.kernel.runtime import boot, reset_runtime
from plugins_app.management.worker import WorkerServices


class Command(BaseCommand):
    help = "Run Jupiter's jobs: one worker process (start several to share the load)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--threads", type=int, default=None, help="jobs this worker runs at once"
        )
        parser.add_argument(
            "--drain",
            type=float,
            default=None,
            help="seconds running jobs get to finish after SIGTERM (JUPITER_WORKER_DRAIN)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        services = WorkerServices(boot(), options["threads"]).start()
        self.stdout.write(f"Jupiter worker {services.jobs.worker_id} running.")
        self.stdout.flush()
        stop.wait()
        drain = options["drain"] if options["drain"] is not None else conf.get().worker_drain
        self.stdout.write(f"Stopping: running jobs get up to {drain:g} s to finish.")
        self.stdout.flush()
        drained = services.stop(drain)
        reset_runtime()
        self.stdout.write("Stopped." if drained else "Stopped; some jobs were still running.")
