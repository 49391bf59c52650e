"""Settings of the page benchmark's server: Jupiter's, with `pages_urls` as the URLconf."""

from jupiter_site.settings import *  # noqa: F403

ROOT_URLCONF = "pages_urls"
