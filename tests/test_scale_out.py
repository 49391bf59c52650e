"""Scale-out mode (SPEC T3): the same code on PostgreSQL and the Redis channel layer.

These tests need the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379). Where they
are missing the tests skip and say so; with JUPITER_REQUIRE_SERVICES=1 (CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "JUPITER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("JUPITER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _unavailable(reason: str) -> None:
    if os.environ.get("JUPITER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (JUPITER_REQUIRE_SERVICES=1 requires it)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url():
    psycopg = pytest.importorskip("psycopg")
    name = f"jupiter_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_postgres_migrates_syncs_and_enables(postgres_url, tmp_path):
    env = {
        "DATABASE_URL": postgres_url,
        "JUPITER_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-scale-out-key",
    }
    demo = tmp_path / "demo"
    demo.mkdir()
    for args in (
        ("migrate", "--noinput"),
        ("jupiter_bootstrap", "--demo-root", str(demo), "--demo-name", "pgdemo"),
        ("jupiter_plugins", "enable", "code_analyzer", "--project", "pgdemo"),
    ):
        done = _manage(env, *args)
        assert done.returncode == 0, done.stderr
    listing = _manage(env, "jupiter_plugins", "list", "--json")
    rows = {row["id"]: row for row in json.loads(listing.stdout)}
    assert rows["code_analyzer"]["status"] == "ready"
    assert "code_analyzer:\n    enabled: true" in (demo / "pgdemo.jupiter.yaml").read_text()


async def test_redis_channel_layer_delivers_group_messages():
    channels_redis = pytest.importorskip("channels_redis.core")
    layer = channels_redis.RedisChannelLayer(hosts=[REDIS_URL])
    try:
        channel = await layer.new_channel()
        await layer.group_add("jupiter-test", channel)
    except OSError as exc:
        _unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    await layer.group_send("jupiter-test", {"type": "plugin.status", "seq": 1})
    message = await layer.receive(channel)
    assert message == {"type": "plugin.status", "seq": 1}
    await layer.group_discard("jupiter-test", channel)
    await layer.flush()
