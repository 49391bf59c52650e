"""Response hardening shared by every page, and API tokens in place of a session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from plugins_app.web import tokens
from plugins_app.web.views import errors

log = logging.getLogger("jupiter.access")

# No inline scripts and no third-party origins: plugin HTML can never run code here (SPEC X6).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Django's admin loads only its own scripts, but its templates carry a few style="" attributes.
ADMIN_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        admin = request.path.startswith("/admin/")
        policy = ADMIN_CONTENT_SECURITY_POLICY if admin else CONTENT_SECURITY_POLICY
        response.setdefault("Content-Security-Policy", policy)
        return response


class NoStoreMiddleware:
    """Pages show live state (enabled, running, saved): Back and a reload must ask again.

    Every HTML answer gets ``Cache-Control: no-store`` unless its view chose otherwise, so
    the browser's back-forward cache never shows a button from before a toggle. Static files
    (WhiteNoise) and downloads keep their own headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if _bare_error(request, response):
            text = response.content.decode("utf-8", "replace").strip()[:500]
            response = errors.error_page(request, response.status_code, text)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Cache-Control", "no-store")
        return response


def _bare_error(request: HttpRequest, response: HttpResponse) -> bool:
    """A 400 or 405 answered with a bare text to a person's browser (not HTMX, not JSON)."""
    return (
        response.status_code in errors.PAGES
        and response.status_code != 403
        and not getattr(response, "streaming", False)
        and "html" in request.headers.get("Accept", "")
        and not request.headers.get("HX-Request")
        and b"<html" not in response.content[:2048].lower()
        and not response.get("Content-Type", "").startswith("application/json")
    )


class ApiTokenMiddleware:
    """``Authorization: Bearer jpt_…`` on a GET of a view marked ``token_scope``: the request
    runs as the token's user. Placed before ``LoginRequiredMiddleware``, which then sees an
    authenticated user. A bad token is a 401, never a fallback to the session; any other
    bearer value is left to the view (``/metrics`` still accepts ``JUPITER_METRICS_TOKEN``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        header = request.headers.get("Authorization", "")
        secret = header.removeprefix("Bearer ").strip()
        scope = getattr(view, "token_scope", None)
        if not header.startswith("Bearer ") or not secret.startswith(tokens.PREFIX):
            return None
        if scope is None or request.method not in ("GET", "HEAD"):
            return JsonResponse({"error": "API tokens are not accepted here"}, status=403)
        user = tokens.authenticate(secret, scope)
        if user is None:
            log.warning("API token refused for %s", request.path)
            response = JsonResponse({"error": "invalid, revoked or out-of-scope token"}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="jupiter"'
            return response
        request.user = user
        return None
