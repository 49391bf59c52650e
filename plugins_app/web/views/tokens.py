"""A user's API tokens (SPEC X4): issue one (its secret shown once), see and revoke them."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from plugins_app.models import ApiToken, TokenScope
from plugins_app.web import tokens
from plugins_app.web.views import JupiterRequest


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. grafana.")
    scopes = forms.MultipleChoiceField(
        choices=TokenScope.choices, widget=forms.CheckboxSelectMultiple
    )


@require_http_methods(["GET", "POST"])
def token_list(request: JupiterRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    secret = ""
    if request.method == "POST" and form.is_valid():
        _, secret = tokens.issue(
            request.user, form.cleaned_data["name"], form.cleaned_data["scopes"]
        )
        form = TokenForm()
    return render(
        request,
        "plugins_app/token_list.html",
        {
            "tokens": ApiToken.objects.filter(user=request.user),
            "form": form,
            "secret": secret,
        },
        status=422 if form.errors else 200,
    )


@require_POST
def token_revoke(request: JupiterRequest, pk: int) -> HttpResponse:
    """Only one's own tokens: another user's is a 404, as if it did not exist."""
    tokens.revoke(get_object_or_404(ApiToken, pk=pk, user=request.user), actor=request.user)
    messages.info(request, "Token revoked: it no longer works.")
    return redirect("plugins_app:token-list")
