"""Storage failures answered with a clear page, never a bare 500 (issue 16).

``StorageErrorMiddleware`` turns a storage failure raised by a view into 507 (no space) or
503 (read-only, no permission, database busy or failing): a page saying what failed, where
and what to do, or, for an HTMX request, an inline message retargeted to the page's alert
area. ``server_error`` (the project's ``handler500``) does the same for failures outside
views, such as the session save after a login on a full disk, and is Django's 500 otherwise.

Both render without the request's context processors: those read the session and the
user, which may be exactly what is failing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from plugins_app.base.storage import StorageProblem, storage_problem

log = logging.getLogger("jupiter.storage")

ALERT_TARGET = "#storage-alert"


def storage_response(request: HttpRequest, problem: StorageProblem) -> HttpResponse:
    """The page (or HTMX fragment) explaining ``problem``, with its status."""
    htmx = request.headers.get("HX-Request") == "true"
    template = "plugins_app/partials/storage_error.html" if htmx else "storage_error.html"
    response = HttpResponse(render_to_string(template, {"problem": problem}), status=problem.status)
    if htmx:
        response["HX-Retarget"] = ALERT_TARGET
        response["HX-Reswap"] = "innerHTML"
    response["Retry-After"] = "30"
    return response


class StorageErrorMiddleware:
    """Maps storage failures raised in views to ``storage_response``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        problem = storage_problem(exception)
        if problem is None:
            return None
        log.error("%s %s: %s", request.method, request.path, problem.message, exc_info=exception)
        return storage_response(request, problem)


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """``handler500``: a storage failure outside a view still gets its clear answer."""
    problem = storage_problem(sys.exc_info()[1])
    if problem is not None:
        return storage_response(request, problem)
    return defaults.server_error(request, template_name)
