"""What the plugin page and the install review show of a manifest, as plain values.

Built from the typed ``Manifest`` (already validated and normalised), so nothing here reads
stored JSON. Manifest text comes from third parties: templates only ever autoescape it, and
only http(s) addresses become links (a ``javascript:`` homepage stays plain text).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from plugins_app.manifest.model import ChangelogEntry, Dependency, Manifest
from plugins_app.manifest.permissions import describe


@dataclass(frozen=True)
class Permission:
    name: str
    description: str


def _web_url(url: str) -> str:
    """``url`` stripped when it is an http(s) address with a host, else "" (not a link)."""
    url = url.strip()
    parts = urlsplit(url)
    return url if parts.scheme in {"http", "https"} and parts.netloc else ""


@dataclass(frozen=True)
class ManifestFacts:
    """The parts of a manifest the plugin page and the install review show."""

    author_name: str = ""
    author_email: str = ""
    author_url: str = ""
    license: str = ""
    homepage: str = ""
    homepage_is_link: bool = False
    jupiter_version: str = ""
    dependencies: tuple[Dependency, ...] = ()
    permissions: tuple[Permission, ...] = ()
    changelog: tuple[ChangelogEntry, ...] = ()

    @classmethod
    def of(cls, manifest: Manifest | None) -> ManifestFacts:
        """The facts of ``manifest``; none (empty values) while the plugin.yaml is invalid."""
        if manifest is None:
            return cls()
        author = manifest.author
        homepage = manifest.homepage.strip()
        return cls(
            author_name=author.name.strip() if author else "",
            author_email=author.email.strip() if author else "",
            author_url=_web_url(author.url) if author else "",
            license=manifest.license.strip(),
            homepage=homepage,
            homepage_is_link=bool(_web_url(homepage)),
            jupiter_version=manifest.jupiter_version.strip(),
            dependencies=manifest.dependencies,
            permissions=tuple(Permission(name, describe(name)) for name in manifest.permissions),
            changelog=manifest.changelog_entries,
        )
