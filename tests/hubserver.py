"""A small HTTP server on 127.0.0.1 that speaks the Hugging Face Hub endpoints huggingface_hub uses.

``GET /api/models/{repo}[/revision/{rev}]`` (model_info with LFS sha256s),
``HEAD``/``GET /{repo}/resolve/{rev}/{file}`` with Range support.  Faults for tests:
``drop_after`` (close the connection after N bytes, for the next ``drops`` GETs) and
``lie_sha`` (advertise a wrong sha256).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class FakeHub:
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # repo -> filename -> bytes
    drop_after: int | None = None
    drops: int = 0
    lie_sha: bool = False
    cut_at: int | None = None  # never serve past this file offset (a download that cannot finish)
    range_requests: list[str] = field(default_factory=list)
    gets: int = 0
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # extra model_info fields
    gated: set[str] = field(default_factory=set)  # repos whose files need accepted terms

    def add(self, repo: str, filename: str, data: bytes) -> None:
        self.files.setdefault(repo, {})[filename] = data


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def _json(self, code: int, obj: object, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _not_found(self) -> None:
            self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

        def _model_info(self, repo: str) -> None:
            if repo not in hub.files:
                return self._not_found()
            siblings = []
            for fn, data in hub.files[repo].items():
                sha = hashlib.sha256(data).hexdigest()
                if hub.lie_sha:
                    sha = hashlib.sha256(b"something else").hexdigest()
                siblings.append(
                    {
                        "rfilename": fn,
                        "size": len(data),
                        "lfs": {"sha256": sha, "size": len(data), "pointerSize": 134},
                    }
                )
            self._json(
                200,
                {
                    "id": repo,
                    "modelId": repo,
                    "sha": COMMIT,
                    "siblings": siblings,
                    "private": False,
                    "tags": ["gguf"],
                    **hub.info.get(repo, {}),
                },
            )

        def _resolve(self, head: bool) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) < 5 or parts[2] != "resolve":
                return self._not_found()
            repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
            if repo in hub.gated:  # what the Hub answers an account that has not accepted
                msg = f"Access to model {repo} is restricted. You must have access to it."
                self.send_response(401)
                self.send_header("X-Error-Code", "GatedRepo")
                self.send_header("X-Error-Message", msg)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = hub.files.get(repo, {}).get(filename)
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(data).hexdigest() + '"'
            start = 0
            rng = self.headers.get("Range")
            if rng and not head:
                hub.range_requests.append(rng)
                start = int(rng.split("=")[1].split("-")[0])
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", etag)
            self.send_header("X-Linked-Etag", etag)
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Content-Length", str(len(body)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if head:
                return
            hub.gets += 1
            if hub.cut_at is not None:
                self.wfile.write(body[: max(0, hub.cut_at - start)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if hub.drop_after is not None and hub.drops > 0:
                hub.drops -= 1
                self.wfile.write(body[: hub.drop_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

        def do_HEAD(self) -> None:
            self._resolve(head=True)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/api/models/"):
                rest = path[len("/api/models/") :].split("/")
                return self._model_info("/".join(rest[:2]))
            self._resolve(head=False)

    return H


class HubServer:
    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def tiny_gguf(path: Path, name: str = "tiny", n: int = 64 * 1024) -> bytes:
    """Write a small valid GGUF (one f32 tensor of ``n`` values) and return its bytes."""
    import numpy as np
    from gguf import GGUFWriter

    w = GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_context_length(2048)
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.arange(n, dtype=np.float32).reshape(-1, 64))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()
