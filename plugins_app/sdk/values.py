"""Plain values plugins receive: a project, its import graph, an API route's request."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins_app.base.graphs import cycles

__all__ = ["Graph", "PluginRequest", "PluginResponse", "ProjectInfo"]


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    root: Path


@dataclass(frozen=True)
class Graph:
    """Files (nodes) and Python imports (edges ``source -> target``) of one project.

    ``target`` is a project file when the import resolves inside the project, else the
    imported module's dotted name with ``internal`` false.
    """

    project: str
    files: tuple[str, ...]
    edges: tuple[tuple[str, str, bool], ...]

    def imports_of(self, path: str) -> list[str]:
        return [target for source, target, _ in self.edges if source == path]

    def imported_by(self, path: str) -> list[str]:
        return [source for source, target, internal in self.edges if internal and target == path]

    def import_cycles(self) -> list[list[str]]:
        """Groups of project files that import each other, each sorted, for plugins."""
        graph: dict[str, list[str]] = {}
        for source, target, internal in self.edges:
            if internal and source != target:
                graph.setdefault(source, []).append(target)
        return sorted(cycles({k: sorted(v) for k, v in graph.items()}))


@dataclass(frozen=True)
class PluginRequest:
    """What a plugin's API route receives: the parts of the HTTP request it may see.

    No cookies, no session, no CSRF token: the host authenticated the caller and passes only
    who it is (``user``). ``GET``/``POST`` keep the first value of each field.
    """

    method: str
    path: str
    GET: Mapping[str, str] = field(default_factory=dict)
    POST: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    # The URL the routes are served under (``/api/plugins/<id>``), for links and redirects.
    root_path: str = ""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "GET": dict(self.GET),
            "POST": dict(self.POST),
            "body": base64.b64encode(self.body).decode("ascii"),
            "headers": dict(self.headers),
            "user": self.user,
            "root_path": self.root_path,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PluginRequest:
        return cls(
            method=str(data["method"]),
            path=str(data["path"]),
            GET=dict(data.get("GET") or {}),
            POST=dict(data.get("POST") or {}),
            body=base64.b64decode(str(data.get("body") or "")),
            headers=dict(data.get("headers") or {}),
            user=str(data.get("user") or ""),
            root_path=str(data.get("root_path") or ""),
        )


@dataclass(frozen=True)
class PluginResponse:
    """What a route returns when plain JSON is not the answer (a file, a status, a type)."""

    body: bytes | str = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        raw = self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        return {
            "status": self.status,
            "content_type": self.content_type,
            "headers": dict(self.headers),
            "body": base64.b64encode(raw).decode("ascii"),
        }
