"""Trust policy (SPEC X2): which trust level a plugin folder has, and whether it may load.

Levels, from most to least trusted:

- ``official``: signed with one of Jupiter's keys (``JUPITER_OFFICIAL_KEYS``), or bundled.
  Bundled plugins (the repository's own ``plugins/`` folder, ``JUPITER_BUNDLED_PLUGIN_DIR``)
  are trusted *by provenance*, like the host code they ship with: they are not signed, because
  they are edited together with Jupiter and a signature made once would turn every later edit
  into "tampered". Whoever can change them can change Jupiter itself.
- ``verified``: a valid signature by a key the operator trusts (``TrustedKey``, admin).
- ``community``: a valid signature by a key nobody here vouches for.
- ``unsigned``: no signature file.

A folder whose signature file exists but does not match (a file changed, added or removed,
a wrong key, a signature for another plugin or version) is refused whatever the settings, and
so is a plugin that was once seen signed (``InstalledPlugin.signed``, recorded at install and
at every sync that verified a signature) and has lost its ``plugin.signature.json``: deleting
the file must not turn a signed plugin into a "Dev / Unsigned" one that loads with edits.
Otherwise a plugin loads when its level reaches ``JUPITER_TRUST_MINIMUM`` (default
``community``); an unsigned one loads only in development, when
``JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS`` is on, and shows the "Dev / Unsigned" badge.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from plugins_app.base import conf
from plugins_app.base.keys import fingerprint
from plugins_app.models import InstalledPlugin, KeyPurpose, TrustedKey, TrustLevel
from plugins_app.trust.signing import (
    SIGNATURE_FILENAME,
    SignatureError,
    has_signature,
    signed_payload,
    verify_plugin,
)


@dataclass(frozen=True)
class TrustAssessment:
    """What a folder's signature says; ``refusal`` set means the plugin must not load.

    ``tampered`` separates an integrity failure (an error) from a policy refusal.
    """

    level: TrustLevel
    refusal: str | None = None
    signer: str = ""
    tampered: bool = False
    signed: bool = False  # a signature was verified (bundled plugins have none)


def is_bundled(path: Path) -> bool:
    bundled = conf.trust().bundled_dir.resolve()
    return Path(path).resolve().is_relative_to(bundled)


def _level_of_key(public_key: str) -> TrustLevel:
    if public_key.strip() in conf.trust().official_keys:
        return TrustLevel.OFFICIAL
    trusted = TrustedKey.objects.filter(
        fingerprint=fingerprint(public_key), purpose=KeyPurpose.PLUGINS, active=True
    )
    return TrustLevel.VERIFIED if trusted.exists() else TrustLevel.COMMUNITY


def policy_refusal(level: TrustLevel) -> str | None:
    """Why the policy refuses a plugin of ``level``, or None when it may load."""
    minimum = conf.trust().minimum_level
    ranks = conf.TRUST_LEVELS_BY_RANK
    if level == TrustLevel.UNSIGNED:
        if conf.get().allow_unsigned_local_plugins or minimum == TrustLevel.UNSIGNED:
            return None
        return (
            "unsigned plugin refused by the trust policy "
            "(JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS is off)"
        )
    if ranks.index(level) < ranks.index(minimum):
        return (
            f"trust level '{level}' is below the policy minimum '{minimum}' (JUPITER_TRUST_MINIMUM)"
        )
    return None


def missing_signature(plugin_id: str) -> str:
    return (
        f"signature check failed: {SIGNATURE_FILENAME} is missing, but {plugin_id} was signed "
        "when it was installed; its files can no longer be checked (sign it again, or "
        "reinstall it)"
    )


def assess(
    path: Path, plugin_id: str, version: str, *, was_signed: bool | None = None
) -> TrustAssessment:
    """Verify the folder's signature (re-hashing every file) and apply the policy.

    ``was_signed`` is whether the plugin was ever seen signed; ``None`` reads it from its row
    (a caller assessing many plugins passes what it read for all of them in one query).
    """
    if is_bundled(path):
        return TrustAssessment(TrustLevel.OFFICIAL, signer="bundled with Jupiter")
    if not has_signature(path):
        if was_signed is None:
            was_signed = InstalledPlugin.objects.filter(plugin_id=plugin_id, signed=True).exists()
        if was_signed:
            return TrustAssessment(TrustLevel.UNSIGNED, missing_signature(plugin_id), tampered=True)
        return TrustAssessment(TrustLevel.UNSIGNED, policy_refusal(TrustLevel.UNSIGNED))
    try:
        verified = verify_plugin(path)
    except SignatureError as exc:
        return TrustAssessment(TrustLevel.UNSIGNED, f"signature check failed: {exc}", tampered=True)
    if (verified.plugin_id, verified.version) != (plugin_id, version):
        reason = (
            f"signature check failed: signed as {verified.plugin_id} {verified.version} "
            f"but plugin.yaml says {plugin_id} {version}"
        )
        return TrustAssessment(TrustLevel.UNSIGNED, reason, tampered=True)
    level = _level_of_key(verified.public_key)
    return TrustAssessment(level, policy_refusal(level), signer=verified.fingerprint, signed=True)


def served_file_refusal(
    plugin: InstalledPlugin, relative: str, data: bytes, *, root: Path | None = None
) -> str | None:
    """Why ``data``, read from ``relative`` in the plugin's folder to be served to a
    browser (a panel's template, script or style sheet), must not be: the bytes sent are
    the bytes signed (X2). ``None`` when they may be.

    Bundled plugins are trusted by provenance; an unsigned one follows the policy, unless it
    was once seen signed. A signed one needs a valid signature file for its id and version
    listing ``relative`` with this exact SHA-256: an edit made after the last load is caught
    here, for this file, without re-hashing the whole folder on every request.
    """
    folder = Path(root or plugin.source_path)
    if is_bundled(folder):
        return None
    if not has_signature(folder):
        if plugin.signed:
            return missing_signature(plugin.plugin_id)
        return policy_refusal(TrustLevel.UNSIGNED)
    try:
        payload = signed_payload(folder)
    except SignatureError as exc:
        return f"signature check failed: {exc}"
    if (payload.get("plugin_id"), payload.get("version")) != (plugin.plugin_id, plugin.version):
        return "signature check failed: the signature is for another plugin or version"
    signed = payload["files"].get(relative)
    if signed is None:
        return f"signature check failed: {relative} is not signed"
    if signed != hashlib.sha256(data).hexdigest():
        return f"signature check failed: file changed since signing: {relative}"
    return None
