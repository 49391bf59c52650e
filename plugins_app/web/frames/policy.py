"""The Content-Security-Policy of plugin frames and assets, and the tokens in asset URLs.

A frame's policy starts with ``sandbox allow-scripts`` (an opaque origin even if the frame
is opened on its own, outside the console's ``<iframe sandbox>``) and allows scripts from
two URL prefixes only: the frame runtime (``/static/jupiter/frame/``) and the plugin's own
asset prefix (``/plugins/<id>/frame-assets/<token>/``). Path-restricted sources, rather
than a nonce, because a nonce travels with a module's ``import()``: with a nonce, a plugin
module could import any URL (another plugin's code, the console's scripts); with paths it
can only import its own files. Inline scripts, ``eval`` and every other origin are refused.
``connect-src 'none'`` (no fetch, XHR, WebSocket, beacon), ``form-action 'none'``,
``base-uri 'none'``, ``frame-src 'none'`` and the sandbox flags (no forms, popups, top
navigation, modals or downloads) leave ``postMessage`` to the console as the only way out.
``frame-ancestors 'self'``: only the console may frame it. ``navigate-to`` is not sent: the
draft that defined it was abandoned and no browser enforces it; a frame that navigates
itself is stopped by the console instead (``frames.js``).

Asset requests come from the opaque origin, so the browser sends them without the session
cookie (cross-site, ``SameSite=Lax``). The frame document, requested by the console page
with the session, hands out a token bound to the plugin and the user instead; it is valid
for one to two hours, and the same within an hour, so the browser may cache assets.
"""

from __future__ import annotations

import time

from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.crypto import constant_time_compare, salted_hmac

FRAME_SANDBOX = "allow-scripts"
TOKEN_PERIOD = 3600
_SALT = "jupiter.plugin-frame-assets"


def origin_of(request: HttpRequest) -> str:
    """The console's origin as the browser sees it (``CSRF_TRUSTED_ORIGINS`` proxies too)."""
    return f"{request.scheme}://{request.get_host()}"


def runtime_prefix() -> str:
    """Where the frame runtime's own files are served (``static/jupiter/frame/``)."""
    return static("jupiter/frame/")


def frame_policy(origin: str, assets_prefix: str) -> str:
    """The policy of one plugin's frame document; ``assets_prefix`` is its token's path."""
    runtime = origin + runtime_prefix()
    assets = origin + assets_prefix
    return "; ".join(
        (
            f"sandbox {FRAME_SANDBOX}",
            "default-src 'none'",
            f"script-src {runtime} {assets}",
            # Styles cannot leave the frame: inline ones are the plugin's own business.
            f"style-src {runtime} {assets} 'unsafe-inline'",
            f"img-src {assets} data: blob:",
            f"font-src {assets}",
            "connect-src 'none'",
            "media-src 'none'",
            "object-src 'none'",
            "frame-src 'none'",
            "worker-src 'none'",
            "manifest-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        )
    )


# A plugin asset opened as a page of its own (an SVG, say) is sandboxed too.
ASSET_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _mac(plugin_id: str, user_pk: int, expires: int) -> str:
    value = f"{plugin_id}:{user_pk}:{expires}"
    return salted_hmac(_SALT, value, algorithm="sha256").hexdigest()[:40]


def asset_token(plugin_id: str, user_pk: int, now: float | None = None) -> str:
    """A token for ``user_pk``'s frames of ``plugin_id``: ``<user>.<expires>.<mac>``."""
    moment = int(time.time() if now is None else now)
    expires = (moment // TOKEN_PERIOD + 2) * TOKEN_PERIOD
    return f"{user_pk}.{expires}.{_mac(plugin_id, user_pk, expires)}"


def token_user(plugin_id: str, token: str, now: float | None = None) -> int | None:
    """The user a valid, unexpired token of ``plugin_id`` was issued to, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    user_pk, expires = int(parts[0]), int(parts[1])
    if expires < (time.time() if now is None else now):
        return None
    if not constant_time_compare(parts[2], _mac(plugin_id, user_pk, expires)):
        return None
    return user_pk
