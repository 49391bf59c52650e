"""What the plugin page and the install review show of a typed manifest (SPEC U1, X1)."""

from __future__ import annotations

from pathlib import Path

from plugins_app.manifest.model import Author, ChangelogEntry, Dependency, Manifest
from plugins_app.web.presenters.plugins import ManifestFacts, Permission


def _manifest(**fields: object) -> Manifest:
    return Manifest(
        id="sample",
        name="Sample",
        version="1.0.0",
        kind="tool",
        entrypoints={"register": "plugin:register"},
        root=Path("/plugins/sample"),
        **fields,
    )


def test_only_http_addresses_become_links() -> None:
    hostile = ManifestFacts.of(
        _manifest(
            homepage=" javascript:alert(1) ",
            author=Author("Eve", url="javascript:alert(2)"),
        )
    )
    assert (hostile.homepage, hostile.homepage_is_link) == ("javascript:alert(1)", False)
    assert hostile.author_url == ""

    friendly = ManifestFacts.of(
        _manifest(homepage="https://a.example/docs", author=Author("Ada", url="http://ada.example"))
    )
    assert (friendly.homepage, friendly.homepage_is_link) == ("https://a.example/docs", True)
    assert friendly.author_url == "http://ada.example"
    assert not ManifestFacts.of(_manifest(homepage="https:no-host")).homepage_is_link


def test_permissions_are_described_and_custom_ones_kept() -> None:
    facts = ManifestFacts.of(_manifest(permissions=("fs_read", "emit_events")))
    assert facts.permissions == (
        Permission("fs_read", "Read files inside the project's root directory"),
        Permission("emit_events", "Custom permission 'emit_events'"),
    )


def test_changelog_in_any_shape_becomes_entries() -> None:
    text = ManifestFacts.of(_manifest(changelog="First release."))
    assert text.changelog == (ChangelogEntry("", ("First release.",)),)
    entries = ManifestFacts.of(
        _manifest(changelog=({"version": "1.1", "changes": ["Faster"]}, "1.0: first"))
    )
    assert entries.changelog == (
        ChangelogEntry("1.1", ("Faster",)),
        ChangelogEntry("", ("1.0: first",)),
    )


def test_author_licence_dependencies_and_host_version() -> None:
    dependency = Dependency("graph", ">=1.0", optional=True)
    facts = ManifestFacts.of(
        _manifest(
            author=Author("Ada", "ada@example.org"),
            license="MIT",
            jupiter_version=">=1.0",
            dependencies=(dependency,),
        )
    )
    assert (facts.author_name, facts.author_email, facts.license) == (
        "Ada",
        "ada@example.org",
        "MIT",
    )
    assert facts.jupiter_version == ">=1.0" and facts.dependencies == (dependency,)


def test_an_invalid_manifest_shows_nothing() -> None:
    assert ManifestFacts.of(None) == ManifestFacts()
    assert ManifestFacts.of(_manifest()) == ManifestFacts()
