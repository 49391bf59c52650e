"""ASGI entry point: HTTP through Django, WebSockets through Channels (Daphne serves both).

The plugin runtime boots once per process, before the first request is served; plugin
processes do not hold it up: a plugin whose registration is remembered starts on first use,
the others start in the background (``boot(background=True)``).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from plugins_app.kernel.runtime import boot  # noqa: E402
from plugins_app.web.routing import websocket_urlpatterns  # noqa: E402
from plugins_app.web.server import start_server_services  # noqa: E402

boot(background=True)
start_server_services()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
