"""Members of a project and their roles (SPEC X4): owners (and staff) manage them here."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from plugins_app.models import ProjectMembership, ProjectRole
from plugins_app.projects.errors import MembershipError
from plugins_app.projects.roles import MANAGE_MEMBERS, grant, revoke
from plugins_app.web.decorators import project_for
from plugins_app.web.views import JupiterRequest


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=[*ProjectRole.choices, ("", "Remove from the project")])

    def clean_username(self) -> str:
        name = str(self.cleaned_data["username"]).strip()
        if not get_user_model().objects.filter(username=name).exists():
            raise forms.ValidationError(f"no user named {name!r}")
        return name


@require_http_methods(["GET", "POST"])
def project_members(request: JupiterRequest, name: str) -> HttpResponse:
    """Who has which role; a POST sets one user's role, or removes them."""
    project = project_for(request.user, name, MANAGE_MEMBERS)
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = get_user_model().objects.get(username=form.cleaned_data["username"])
        role = form.cleaned_data["role"]
        try:
            if role:
                grant(project, user, role, actor=request.user)
            else:
                revoke(project, user, actor=request.user)
        except MembershipError as exc:
            messages.error(request, str(exc))
        else:
            done = f"is now {role}" if role else "was removed"
            messages.info(request, f"{user.get_username()} {done}.")
        return redirect("plugins_app:project-members", name=project.name)
    members = ProjectMembership.objects.filter(project=project).select_related("user")
    return render(
        request,
        "plugins_app/project_members.html",
        {"project": project, "members": members, "form": form},
        status=422 if form.errors else 200,
    )
