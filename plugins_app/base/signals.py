"""Sending the host's own signals without letting a receiver break the sender.

Lower layers announce facts with Django signals and upper layers receive them (the layers
import only downwards). A receiver runs after the fact is recorded, so one that fails cannot
undo it: its error is logged instead of surfacing in the code that recorded the fact.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger("jupiter.signals")


def send_logged(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` now to every receiver; log the receivers that raise."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            log.error("receiver %r of %r failed", receiver, sender, exc_info=result)


def send_on_commit(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (now if none); never on rollback.

    Receivers that read the database then see the new state, and a rolled-back change is
    never announced.
    """
    transaction.on_commit(lambda: send_logged(signal, sender, **kwargs))
