"""``{% plugin_trust plugin %}``: the trust and catalogue panel of a plugin's page (X2, U7).

An inclusion tag, so the plugin page needs one line to show it and its view stays untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import template

from plugins_app.base import conf
from plugins_app.lifecycle.installer import REFUSALS, managed_folder
from plugins_app.models import InstalledPlugin, TrustedKey
from plugins_app.trust.policy import is_bundled
from plugins_app.trust.signing import claimed_signer

register = template.Library()

EXPLANATIONS = {
    "official": "Signed with Jupiter's key.",
    "verified": "Signed with a key this installation trusts.",
    "community": "Validly signed, by a key nobody here vouches for.",
    "unsigned": "No signature: loaded only because unsigned local plugins are allowed "
    "(development).",
}


@register.inclusion_tag("plugins_app/partials/plugin_trust.html", takes_context=True)
def plugin_trust(context: template.Context, plugin: InstalledPlugin) -> dict[str, Any]:
    source = Path(plugin.source_path) if plugin.source_path else None
    bundled = source is not None and is_bundled(source)
    try:
        managed_folder(plugin)
        managed = True
    except REFUSALS:
        managed = False
    signer = claimed_signer(source) if source and not bundled else ""
    key = TrustedKey.objects.filter(fingerprint=signer).first() if signer else None
    explanation = EXPLANATIONS.get(plugin.trust_level, "")
    if bundled:
        explanation = "Bundled with Jupiter: trusted like the host code it ships with."
    return {
        "plugin": plugin,
        "bundled": bundled,
        "managed": managed,
        "signer": signer,
        "signer_key": key,
        "explanation": explanation,
        "can_check_updates": managed and bool(conf.trust().catalogues),
        "request": context.get("request"),
        "user": context.get("user"),
        "csrf_token": context.get("csrf_token"),
    }
