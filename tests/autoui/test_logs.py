"""Plugin log files, the aggregate, escaping and the bounded feed (SPEC O2, X6)."""

from __future__ import annotations

import logging
import os
import time

from django.urls import reverse

from plugins_app.logs import hub as logs
from plugins_app.logs.files import prune
from plugins_app.logs.hub import get_hub, log_lines, plugin_logger, sanitize, tail

from .conftest import PROBE


def test_sanitize_escapes_controls_and_caps_length():
    assert sanitize("a\nb\x1b[31mred\u202e") == "a\\nb\\x1b[31mred\\u202e"
    long = sanitize("x" * 5000, limit=100)
    assert long.startswith("x" * 100) and long.endswith("... [4900 more characters cut]")


def test_plugin_lines_go_to_its_file_and_the_aggregate(autoui_dirs, tmp_path):
    log = plugin_logger("alpha")
    log.warning("disk <script>alert(1)</script>\nforged line")
    plugin_logger("beta").info("other plugin")
    hub = get_hub()
    hub.drain()
    own = hub.plugin_file("alpha").read_text().splitlines()
    assert len(own) == 1 and own[0].endswith(
        "WARNING [alpha] disk <script>alert(1)</script>\\nforged line"
    )
    aggregate = hub.aggregate_file.read_text()
    assert "[alpha] disk" in aggregate and "INFO [beta] other plugin" in aggregate
    assert not logging.getLogger("jupiter.plugin").propagate  # never floods the console


def test_tail_reads_the_last_lines_at_a_level(tmp_path):
    path = tmp_path / "x.log"
    lines = [
        f"2025-01-01 00:00:00.000 {'ERROR' if i % 10 == 0 else 'INFO'} [p] line {i}"
        for i in range(5000)
    ]
    path.write_text("\n".join(lines) + "\n")
    assert tail(path, 3) == lines[-3:]
    assert tail(path, 2, logging.ERROR, block=512) == [lines[4980], lines[4990]]
    assert tail(tmp_path / "missing.log", 5) == []


def test_pending_lines_are_bounded_and_counted_as_skipped(autoui_dirs, monkeypatch):
    monkeypatch.setattr(logs, "PENDING_MAX", 10)
    hub = get_hub()
    hub.drain()
    for i in range(25):
        plugin_logger("burst").info("line %d", i)
    (batch,) = [b for b in hub.drain() if b.plugin_id == "burst"]
    assert (batch.start, batch.end, len(batch.lines), batch.skipped) == (1, 25, 10, 15)
    assert batch.lines[-1][2].endswith("line 24")
    lines, seq = hub.snapshot("burst", 100)
    assert seq == 25 and len(lines) == 25  # the file is complete: it is the truth


def test_a_shipped_batch_is_written_whole_filtered_by_level_and_bounded_for_the_feed(
    autoui_dirs, monkeypatch
):
    monkeypatch.setattr(logs, "PENDING_MAX", 10)
    hub = get_hub()
    hub.drain()
    shipped = [(logging.INFO, f"line {i}") for i in range(24)]
    shipped += [(logging.DEBUG, "not at this level"), (logging.ERROR, "bad\x1b[31m")]
    assert log_lines("shipper", shipped) == 25
    (batch,) = [b for b in hub.drain() if b.plugin_id == "shipper"]
    assert (batch.start, batch.end, len(batch.lines), batch.skipped) == (1, 25, 10, 15)
    assert [seq for seq, _, _ in batch.lines] == list(range(16, 26))
    assert batch.lines[-1][1] == logging.ERROR
    assert batch.lines[-1][2].endswith("ERROR [shipper] bad\\x1b[31m")
    written = hub.plugin_file("shipper").read_text().splitlines()
    assert len(written) == 25 and written[0].endswith("INFO [shipper] line 0")
    assert "not at this level" not in "".join(written)
    plugin_logger("shipper").info("one more")  # single records continue the numbering
    (batch,) = [b for b in hub.drain() if b.plugin_id == "shipper"]
    assert (batch.start, batch.end) == (26, 26)


def test_prune_removes_the_log_files_nobody_wrote_for_the_retention_period(tmp_path):
    old = time.time() - 15 * 86400
    (tmp_path / "plugins").mkdir()
    stale = [
        tmp_path / "plugins" / "alpha.host-1.log",
        tmp_path / "plugins" / "alpha.host-1.log.1",
        tmp_path / "plugins.host-1.log",
    ]
    fresh = [tmp_path / "plugins" / "alpha.host-2.log", tmp_path / "plugins.host-2.log"]
    for path in [*stale, *fresh]:
        path.write_text("x\n")
    for path in stale:
        os.utime(path, (old, old))
    assert sorted(prune(tmp_path, 14 * 86400)) == sorted(stale)
    assert [path.exists() for path in [*stale, *fresh]] == [False] * 3 + [True] * 2


def test_log_panel_shows_the_tail_escaped_and_download_serves_the_file(client, project):
    deadline = time.monotonic() + 10  # the plugin process's own lines arrive asynchronously
    while not any("probe registered" in line for line in get_hub().snapshot(PROBE, 50)[0]):
        assert time.monotonic() < deadline, "the probe's registration line never arrived"
        time.sleep(0.02)
    plugin_logger(PROBE).error("<script>alert('log')</script>")
    html = client.get(reverse("plugins_app:plugin-logs", args=[PROBE])).content.decode()
    assert "&lt;script&gt;alert(&#x27;log&#x27;)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert 'data-ws-path="/ws/plugins/autoui_probe/logs/"' in html
    response = client.get(reverse("plugins_app:plugin-logs-download", args=[PROBE]))
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Disposition"] == 'attachment; filename="autoui_probe.log"'
    assert "probe registered" in body and "<script>alert('log')</script>" in body


def test_each_process_writes_its_own_files_and_readers_merge_them(autoui_dirs, tmp_path):
    hub = get_hub()
    plugin_logger("alpha").info("from this process")
    hub.flush()
    own = hub.plugin_file("alpha")
    assert (
        own.name == f"alpha.{hub.tag}.log" and hub.aggregate_file.name == f"plugins.{hub.tag}.log"
    )
    other = own.with_name("alpha.elsewhere-7.log")
    other.write_text("2000-01-01 00:00:00.000 INFO [alpha] long ago, in another process\n")
    other.with_name(other.name + ".1").write_text("1999-01-01 00:00:00.000 INFO [alpha] rotated\n")
    lines, _ = hub.snapshot("alpha", 10)
    assert [line.split("] ")[1] for line in lines] == [
        "rotated",
        "long ago, in another process",
        "from this process",
    ]
    body = b"".join(hub.download("alpha")).decode()
    assert body.index("rotated") < body.index("long ago") < body.index("from this process")
    assert hub.size("alpha") == own.stat().st_size + other.stat().st_size


def test_a_writer_rotates_its_own_file_and_the_tail_spans_the_rotation(tmp_path, monkeypatch):
    from plugins_app.logs import files

    monkeypatch.setattr(files, "FILE_MAX_BYTES", 200)
    writer = files.LogFile(tmp_path / "p.host-1.log")
    lines = [f"2025-01-01 00:00:{i:02d}.000 INFO [p] line {i}" for i in range(8)]
    for line in lines:
        assert writer.write(line + "\n")
    writer.close()
    rotated = tmp_path / "p.host-1.log.1"
    assert rotated.exists()
    assert files.merged_tail([tmp_path / "p.host-1.log"], 8) == lines  # both generations
