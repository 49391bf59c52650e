"""Metrics: the leader's collection with a timeout, stored; the card, JSON and Prometheus only
read the stored sample (SPEC U3, O1)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import MetricPoint, MetricSample
from plugins_app.observability.metrics import (
    MetricsCollector,
    collect_due,
    metric_name,
    numbers,
)

from .conftest import PROBE


@pytest.fixture
def probe_module(project):
    module = ProbeControl()
    get_runtime().provide(MetricsCollector(timeout=0.5))
    yield module
    module.release()


class _Behaviour:
    def __init__(self, api) -> None:
        self._api = api

    def __getitem__(self, key: str):
        return self._api["state"]()[key]

    def __setitem__(self, key: str, value) -> None:
        self._api["set_state"](key, value)


class ProbeControl:
    """The probe's ``BEHAVIOUR``, in its own process, through its public API."""

    def __init__(self) -> None:
        self._api = get_runtime().bridge.registration(PROBE).public_api
        self.BEHAVIOUR = _Behaviour(self._api)

    def release(self) -> None:
        process = get_runtime().supervisor.process(PROBE)
        if process is not None and process.alive:
            self._api["release"]()


def test_numbers_keeps_finite_numbers_with_safe_names():
    values, note = numbers({"a.b": 1, "ok": True, "bad": "x", "9lives": 2.5, "nan": float("nan")})
    assert values == {"a_b": 1.0, "ok": 1.0, "_9lives": 2.5}
    assert note == "not numbers, left out: bad, nan"
    assert numbers([1, 2])[1] == "the metrics hook returned list, not a mapping"
    assert metric_name("") == "_"


def _make_stale() -> None:
    """As if the interval had passed since the last attempt."""
    MetricSample.objects.filter(plugin_id=PROBE).update(attempted_at="2000-01-01T00:00:00Z")


def test_card_shows_values_and_polls_at_the_interval(client, probe_module):
    collect_due()
    html = client.get(reverse("plugins_app:plugin-metrics-card", args=[PROBE])).content.decode()
    assert "<dt>items</dt><dd>3</dd>" in html and "<dt>ratio_seen</dt><dd>0.5</dd>" in html
    assert 'hx-trigger="every 5s"' in html
    assert "Not numbers, left out: label." in html


def test_a_fresh_sample_is_reused_within_the_interval(client, probe_module):
    url = reverse("plugins_app:plugin-metrics-json", args=[PROBE])
    assert collect_due() == [PROBE]
    assert collect_due() == []
    client.get(url)
    client.get(url)
    assert probe_module.BEHAVIOUR["calls"] == 1


def test_requests_never_run_the_hook_they_read_the_stored_sample(client, probe_module):
    card = reverse("plugins_app:plugin-metrics-card", args=[PROBE])
    assert "enable it in a project" in client.get(card).content.decode()
    assert (
        client.get(reverse("plugins_app:plugin-metrics-json", args=[PROBE])).json()["values"] == {}
    )
    assert "autoui_probe" not in client.get("/metrics").content.decode()
    assert probe_module.BEHAVIOUR["calls"] == 0
    collect_due()
    row = MetricSample.objects.get(plugin_id=PROBE)
    assert row.values["items"] == 3.0 and row.error == "" and row.collected_at is not None
    assert "<dt>items</dt><dd>3</dd>" in client.get(card).content.decode()
    assert probe_module.BEHAVIOUR["calls"] == 1


def test_the_samples_of_plugins_no_longer_loaded_are_forgotten(probe_module):
    collect_due()
    MetricSample.objects.create(plugin_id="gone", interval=5, attempted_at="2000-01-01T00:00Z")
    collect_due()
    assert list(MetricSample.objects.values_list("plugin_id", flat=True)) == [PROBE]


def test_a_raising_collector_is_reported_and_keeps_the_last_values(client, probe_module):
    url = reverse("plugins_app:plugin-metrics-json", args=[PROBE])
    collect_due()
    before = client.get(url).json()["values"]
    assert before["items"] == 3.0
    probe_module.BEHAVIOUR["mode"] = "raise"
    _make_stale()
    collect_due()
    data = client.get(url).json()
    assert data["error"] == "the metrics hook raised RuntimeError: collector broke"
    assert data["values"] == before


def test_a_hanging_collector_times_out_and_is_not_started_twice(client, probe_module):
    probe_module.BEHAVIOUR["mode"] = "hang"
    url = reverse("plugins_app:plugin-metrics-card", args=[PROBE])
    collect_due()
    html = client.get(url).content.decode()
    assert "did not answer within 0.5 s" in html
    _make_stale()
    collect_due()
    assert "did not answer within 0.5 s" in client.get(url).content.decode()
    assert probe_module.BEHAVIOUR["calls"] == 1


def test_prometheus_text_for_users_and_token_holders_only(client, probe_module, settings):
    collect_due()
    text = client.get("/metrics").content.decode()
    assert 'jupiter_plugin_items{plugin="autoui_probe"} 3.0' in text
    assert 'jupiter_plugin_metrics_up{plugin="autoui_probe"} 1.0' in text
    anonymous = Client()
    assert anonymous.get("/metrics").status_code == 401
    settings.JUPITER_METRICS_TOKEN = "scrape-me"
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_card_of_a_plugin_not_loaded_says_how_to_get_metrics(client, autoui_dirs, user):
    from plugins_app.kernel.runtime import boot

    boot()
    html = client.get(reverse("plugins_app:plugin-metrics-card", args=[PROBE])).content.decode()
    assert "enable it in a project" in html


def test_each_successful_collection_is_kept_and_drawn(client, probe_module):
    for _ in range(3):
        assert collect_due() == [PROBE]
        _make_stale()
    probe_module.BEHAVIOUR["mode"] = "raise"
    collect_due()  # a failure adds no point
    assert MetricPoint.objects.filter(plugin_id=PROBE).count() == 3
    card = client.get(reverse("plugins_app:plugin-metrics-card", args=[PROBE])).content.decode()
    spark = card.split('data-chart="spark-items"')[1].split("</svg>")[0]
    assert spark.count('class="point"') == 3
    chart = client.get(reverse("plugins_app:plugin-metrics-chart", args=[PROBE])).content.decode()
    assert 'data-chart="metric-items" data-points="3"' in chart
    items = chart.split('data-chart="metric-items"')[1].split("</svg>")[0]
    assert items.count('class="point"') == 3 and "3 at " in items


def test_history_is_pruned_by_age_and_by_count(db, settings):
    from datetime import timedelta

    from django.utils import timezone

    from plugins_app.base import conf
    from plugins_app.observability.metrics import MAX_POINTS, history, prune_history

    settings.JUPITER_METRICS_RETENTION_HOURS = 24
    conf.get.cache_clear()
    now = timezone.now()
    MetricPoint.objects.bulk_create(
        [
            MetricPoint(plugin_id="a", values={"n": n}, collected_at=now - timedelta(minutes=n))
            for n in range(MAX_POINTS + 50)
        ]
        + [MetricPoint(plugin_id="b", values={"n": 1}, collected_at=now - timedelta(days=2))]
        + [MetricPoint(plugin_id="b", values={"n": 2}, collected_at=now)]
    )
    assert prune_history(now) == 51
    kept = history("a")
    assert len(kept) == MAX_POINTS and kept[-1][1] == {"n": 0}  # the newest kept, oldest first
    assert [values for _, values in history("b")] == [{"n": 2}]
