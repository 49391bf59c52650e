"""URLs of the page benchmark's server: Jupiter's, plus a bare Django view.

The bare view is served by the same Daphne process as the pages, so `bench/pages.py` can
print each page's req/s as a ratio of the cheapest possible Django response.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), path("", include("jupiter_site.urls"))]
