"""Error pages in the console's layout (403, 404 and 500 are templates Django renders itself);
the 429 of rate limits, a refused CSRF token and bare 400/405 answers are rendered here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from plugins_app.base.errors import JupiterError

PAGES = {
    400: ("Bad request", "The console could not use what was sent."),
    403: ("Not allowed", "Your account may not do this here."),
    405: ("Not here", "This address does not take that kind of request; use the page's buttons."),
}


def error_page(request: HttpRequest, status: int, detail: str = "") -> HttpResponse:
    """The console's page for ``status``, with the view's own message as ``detail``."""
    title, explanation = PAGES[status]
    context = {"title": title, "explanation": explanation, "detail": detail, "status": status}
    return render(request, "error.html", context, status=status)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: usually a page left open across a log-in or a restart."""
    detail = "The form was older than your session. Reload the page and try again."
    return error_page(request, 403, detail)


def too_many_requests(request: HttpRequest, exception: JupiterError | Exception) -> HttpResponse:
    """django-ratelimit's ``RATELIMIT_VIEW``: JSON, since only API clients are limited."""
    response = JsonResponse({"error": "too many requests; try again in a minute"}, status=429)
    response["Retry-After"] = "60"
    return response
