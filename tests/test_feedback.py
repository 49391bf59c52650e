"""Navigation and feedback (issue 15, item 3): true state after Back, styled error pages,
the bell's newest notification for toasts, ISO dates, the admin's title, readable results."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from plugins_app.models import Notification, NotificationLevel
from plugins_app.web.templatetags.jupiter_jobs import readable

pytestmark = pytest.mark.django_db
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("op", is_staff=True))
    return client


def test_pages_are_never_stored_so_back_shows_the_true_state(staff) -> None:
    page = staff.get(reverse("plugins_app:project-list"))
    assert page["Cache-Control"] == "no-store"
    static = staff.get("/static/jupiter/feedback.js")
    assert static.get("Cache-Control", "") != "no-store"
    assert 'name="htmx-config"' in page.content.decode()
    assert '"historyCacheSize": 0' in page.content.decode()


def test_a_bare_405_or_400_is_a_console_page(staff) -> None:
    response = staff.get(reverse("plugins_app:catalogue-update-all"), **HTML)
    html = response.content.decode()
    assert response.status_code == 405
    assert "Not here" in html and 'class="topbar"' in html
    bad = staff.post(
        reverse("plugins_app:project-plugin-toggle", args=["nowhere", "x"]),
        {"enabled": "x"},
        **HTML,
    )
    assert bad.status_code in (400, 404)
    htmx = staff.get(reverse("plugins_app:catalogue-update-all"), HTTP_HX_REQUEST="true", **HTML)
    assert 'class="topbar"' not in htmx.content.decode()  # HTMX gets the bare answer


def test_a_refused_csrf_token_is_a_console_page() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_user("op", is_staff=True))
    response = client.post(reverse("plugins_app:catalogue-check"), **HTML)
    html = response.content.decode()
    assert response.status_code == 403
    assert "Reload the page and try again" in html and 'class="topbar"' in html


def test_the_bell_names_the_newest_unread_notification_for_a_toast(staff) -> None:
    Notification.objects.create(topic="t", title="Old", level=NotificationLevel.INFO)
    newest = Notification.objects.create(
        topic="t", title="Scan <b>done</b>", level=NotificationLevel.SUCCESS, link="/jobs/"
    )
    bell = staff.get(reverse("plugins_app:notification-bell")).content.decode()
    assert f'data-latest-id="{newest.pk}"' in bell
    assert 'data-latest-title="Scan &lt;b&gt;done&lt;/b&gt;"' in bell
    assert "jupiter:job-ended from:body delay:1s" in bell


def test_notifications_page_lists_items_in_the_page_not_as_toasts(staff) -> None:
    Notification.objects.create(topic="t", title="Analysis completed in demo")
    html = staff.get(reverse("plugins_app:notification-list")).content.decode()
    assert '<ul class="notifications">' in html
    with open("static/jupiter/jupiter.css", encoding="utf-8") as stylesheet:
        css = stylesheet.read()
    assert ".notifications { position: fixed" not in css


def test_dates_are_iso_and_the_audit_filter_takes_iso_dates(staff) -> None:
    from datetime import UTC, datetime

    assert render_to_string("error.html", {"title": "x", "status": 400}).count("Jupiter") >= 1
    from django.template import Context, Template

    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert Template("{{ moment }}").render(Context({"moment": moment})) == "2026-03-04 05:06:07"
    page = staff.get(reverse("plugins_app:audit"), {"since": "2026-03-04"}).content.decode()
    assert 'placeholder="YYYY-MM-DD"' in page and 'type="date"' not in page
    refused = staff.get(reverse("plugins_app:audit"), {"since": "03/04/2026"}).content.decode()
    assert "Enter a valid date" in refused


def test_the_admin_is_titled_jupiter(staff) -> None:
    html = staff.get("/admin/").content.decode()
    assert "Jupiter administration" in html and "Django administration" not in html


def test_results_read_as_labelled_values_not_json() -> None:
    node = readable({"files": 3, "by_extension": {".py": 2}, "ok": True, "tags": ["a"] * 60})
    html = render_to_string("plugins_app/partials/readable_value.html", {"node": node})
    assert "<dt>Files</dt><dd>3</dd>" in html
    assert "<dt>By extension</dt>" in html and "<dt>.py</dt><dd>2</dd>" in html
    assert "<dt>Ok</dt><dd>yes</dd>" in html
    assert "… 10 more" in html
    assert "{" not in html


def test_djangos_own_400_uses_the_console_page(rf) -> None:
    from django.views.defaults import bad_request

    response = bad_request(rf.get("/"), Exception("bad"))
    assert response.status_code == 400
    assert "The console could not use what was sent" in response.content.decode()
