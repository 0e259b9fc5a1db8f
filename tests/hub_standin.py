"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, for offline tests: the endpoints
huggingface_hub calls to create a repo, upload a folder (every file "regular": base64 in the
commit), set a Space variable, and download a snapshot. Repos live in memory; a token is required
for writes. Not a mock of our code: the real huggingface_hub client talks to it over HTTP."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

TOKEN = "hf_standin_token"


class Hub:
    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}     # "model:owner/name" -> {"files": {path: bytes}, "sha": str, ...}
        self.variables: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Hub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def repo(self, kind: str, repo_id: str) -> dict:
        return self.repos[f"{kind}:{repo_id}"]

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes | dict = b"", headers: dict | None = None, head=False) -> None:
                data = json.dumps(body).encode() if isinstance(body, dict) else body
                self.send_response(status)
                for k, v in {"Content-Type": "application/json" if isinstance(body, dict) else
                             "application/octet-stream", "Content-Length": str(len(data)), **(headers or {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    return True
                self._send(401, {"error": "Invalid credentials in Authorization header"})
                return False

            def do_POST(self) -> None:
                path = unquote(urlparse(self.path).path)
                body = self._body()
                if not self._authorised():
                    return
                if path == "/api/repos/create":
                    data = json.loads(body)
                    repo_id = f"{data['organization']}/{data['name']}"
                    with hub.lock:
                        hub.repos.setdefault(f"{data.get('type', 'model')}:{repo_id}",
                                             {"files": {}, "sha": "0" * 40, "sdk": data.get("sdk")})
                    return self._send(200, {"url": f"{hub.url}/{repo_id}"})
                if path == "/api/validate-yaml":  # README front matter; a Space's must name its sdk
                    data = json.loads(body)
                    front = data["content"].split("---")[1] if data["content"].startswith("---") else ""
                    if data["repoType"] == "space" and not re.search(r"^sdk:", front, re.M):
                        return self._send(400, {"errors": [{"message": "\"sdk\" is required"}]})
                    return self._send(200, {"errors": [], "warnings": []})
                m = re.fullmatch(r"/api/(model|space|dataset)s/([^/]+/[^/]+)/(preupload|commit)/([^/]+)", path)
                if m:
                    kind, repo_id, action, _ = m.groups()
                    repo = hub.repos.get(f"{kind}:{repo_id}")
                    if repo is None:
                        return self._send(404, {"error": "Repository not found"})
                    if action == "preupload":
                        files = json.loads(body)["files"]
                        return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                           "shouldIgnore": False} for f in files]})
                    with hub.lock:
                        for line in body.splitlines():
                            item = json.loads(line)
                            if item["key"] == "file":
                                repo["files"][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                        repo["sha"] = hashlib.sha1(json.dumps(sorted(
                            (p, hashlib.sha256(b).hexdigest()) for p, b in repo["files"].items())).encode()).hexdigest()
                    return self._send(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{repo['sha']}",
                                            "commitOid": repo["sha"]})
                m = re.fullmatch(r"/api/spaces/([^/]+/[^/]+)/variables", path)
                if m:
                    data = json.loads(body)
                    with hub.lock:
                        variables = hub.variables.setdefault(m.group(1), {})
                        variables[data["key"]] = {"value": data["value"]}
                    return self._send(200, variables)
                self._send(404, {"error": f"no such route {path}"})

            def do_GET(self, head: bool = False) -> None:
                path = unquote(urlparse(self.path).path)
                m = re.fullmatch(r"/api/(model|space|dataset)s/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
                if m:
                    kind, repo_id, _ = m.groups()
                    repo = hub.repos.get(f"{kind}:{repo_id}")
                    if repo is None:
                        return self._send(404, {"error": "Repository not found"},
                                          {"X-Error-Code": "RepoNotFound"}, head)
                    return self._send(200, {"id": repo_id, "modelId": repo_id, "sha": repo["sha"], "private": False,
                                            "siblings": [{"rfilename": p} for p in sorted(repo["files"])]}, head=head)
                m = re.fullmatch(r"/api/(model|space|dataset)s/([^/]+/[^/]+)/tree/([^/]+)", path)
                if m:
                    repo = hub.repos.get(f"{m.group(1)}:{m.group(2)}")
                    if repo is None:
                        return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}, head)
                    entries = [{"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                               for p, b in sorted(repo["files"].items())]
                    return self._send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"}, head)
                m = re.fullmatch(r"/(?:(spaces|datasets)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if m:
                    kind, repo_id, _, name = m.groups()
                    repo = hub.repos.get(f"{(kind or 'models')[:-1]}:{repo_id}")
                    if repo is None or name not in repo["files"]:
                        return self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}, head)
                    data = repo["files"][name]
                    etag = '"' + hashlib.sha256(data).hexdigest() + '"'
                    return self._send(200, data, {"X-Repo-Commit": repo["sha"], "ETag": etag}, head)
                self._send(404, {"error": f"no such route {path}"}, head=head)

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

        return Handler
