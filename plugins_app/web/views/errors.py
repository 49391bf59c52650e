"""Error pages in the console's layout (403, 404 and 500 are templates Django renders itself);
the 429 of rate limits is answered here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from plugins_app.base.errors import JupiterError


def too_many_requests(request: HttpRequest, exception: JupiterError | Exception) -> HttpResponse:
    """django-ratelimit's ``RATELIMIT_VIEW``: JSON, since only API clients are limited."""
    response = JsonResponse({"error": "too many requests; try again in a minute"}, status=429)
    response["Retry-After"] = "60"
    return response
