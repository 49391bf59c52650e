"""SECRET_KEY: generated once, race-free, for processes started together; required with
PostgreSQL (a multi-process deployment, maybe on several hosts)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from plugins_app.base.secret_key import secret_key

ROOT = Path(__file__).resolve().parent.parent
SQLITE = "django.db.backends.sqlite3"
POSTGRES = "django.db.backends.postgresql"

RACER = """
import sys, time
from pathlib import Path
from plugins_app.base.secret_key import secret_key
start = float(sys.argv[2])
while time.time() < start:
    pass
print(secret_key({}, Path(sys.argv[1]), "django.db.backends.sqlite3"))
"""


def test_processes_starting_together_agree_on_one_generated_key(tmp_path):
    for _ in range(3):  # each round a fresh var/: a race each time
        var = tmp_path / f"var{_}"
        start = f"{time.time() + 1.0:.3f}"
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(var), start],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        keys = {racer.communicate(timeout=30)[0].strip() for racer in racers}
        assert len(keys) == 1 and len(keys.pop()) >= 50
        assert (var / "secret_key").stat().st_mode & 0o777 == 0o600
        assert [p.name for p in var.iterdir()] == ["secret_key"]  # no temporary file left


def test_the_environment_wins_and_the_file_is_kept(tmp_path):
    first = secret_key({}, tmp_path, SQLITE)
    assert secret_key({}, tmp_path, SQLITE) == first
    assert secret_key({"SECRET_KEY": "from-env"}, tmp_path, POSTGRES) == "from-env"


def test_postgresql_without_a_secret_key_refuses_to_start(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        secret_key({}, tmp_path, POSTGRES)
    assert not (tmp_path / "secret_key").exists()
    env = {
        key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL="postgresql://postgres@127.0.0.1:5432/none", JUPITER_VAR_DIR=str(tmp_path)
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set in the environment" in done.stderr


def test_an_empty_key_file_is_waited_for_then_refused(tmp_path, monkeypatch):
    from plugins_app.base import secret_key as module

    monkeypatch.setattr(module, "WAIT_SECONDS", 0.2)
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        secret_key({}, tmp_path, SQLITE)
