"""Response hardening shared by every page, and API tokens in place of a session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from plugins_app.web import tokens

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
