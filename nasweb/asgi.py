"""The one ASGI application: Django for HTTP, authenticated websockets for live updates."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nasweb.settings.base")
django_http_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.live.origins import SameOriginValidator  # noqa: E402
from apps.live.routing import websocket_urlpatterns  # noqa: E402
from nasweb.body_limit import RequestBodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_http_app),
        # Websockets skip Django's CSRF protection: refuse other origins before the session is trusted.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
