"""What keeps a local server local: a web page the user opens must not be able to drive it.

An ASGI middleware, checked before any route runs, in this order:

1. the Host header must name loopback (127.0.0.1, localhost or [::1], with the server's port or
   none): a DNS-rebinding page reaches 127.0.0.1 under its own name, and is refused (403);
2. any ``Origin`` header is refused (403): browsers send it on cross-site requests, and no
   legitimate client of this server is a browser page;
3. every route but ``/v1/health`` needs ``Authorization: Bearer <token>`` (401), the token
   being in the discovery file only the user can read;
4. a POST body must be ``application/json``, or ``multipart/form-data`` on the upload route
   (415): the "simple" ``text/plain`` form posts browsers send without asking are refused.

There is no CORS middleware: no browser origin is ever allowed.
"""

from __future__ import annotations

import json
import secrets

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
OPEN_ROUTES = ("/v1/health",)
UPLOAD_ROUTES = ("/v1/jobs/upload",)


def host_allowed(host: str, port: int) -> bool:
    name, _, given = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name:  # no port in the header
        name, given = host, ""
    return name.lower() in LOOPBACK_NAMES and given in ("", str(port))


def _refusal(status: int, type_: str, message: str, extra: list | None = None):
    body = json.dumps({"error": {"type": type_, "message": message, "path": None}}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())] + (extra or [])
    return status, headers, body


class LocalOnly:
    """The ASGI middleware described above; ``port`` is set once the socket is bound."""

    def __init__(self, app, token: str, port: int = 0, max_upload: int = 2 << 30):
        self.app = app
        self.token = token
        self.port = port
        self.max_upload = max_upload  # bytes in an upload request

    def check(self, scope) -> tuple[int, list, bytes] | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        if not host_allowed(headers.get("host", ""), self.port):
            return _refusal(403, "ForbiddenHost", "this server answers only to 127.0.0.1, "
                            "localhost or [::1]")
        if "origin" in headers:
            return _refusal(403, "ForbiddenOrigin", "requests from web pages are refused")
        path = scope["path"]
        if path not in OPEN_ROUTES:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                    token.strip().encode(), self.token.encode()):
                return _refusal(401, "Unauthorized", "a bearer token is needed: the 'token' "
                                "of the server's discovery file (see `stemma serve`)",
                                [(b"www-authenticate", b"Bearer")])
        if scope["method"] == "POST":
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            wanted = "multipart/form-data" if path in UPLOAD_ROUTES else "application/json"
            if ctype != wanted:
                return _refusal(415, "UnsupportedMediaType",
                                f"this route takes {wanted}, not {ctype or 'no content type'}")
            if path in UPLOAD_ROUTES:
                return self._check_size(headers.get("content-length", ""))
        return None

    def _check_size(self, length: str) -> tuple[int, list, bytes] | None:
        if not length.isdigit():
            return _refusal(411, "LengthRequired", "an upload needs a Content-Length")
        if int(length) > self.max_upload:
            return _refusal(413, "UploadTooLarge", f"uploads are limited to "
                            f"{self.max_upload >> 20} MiB; submit the file by path instead")
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refused = self.check(scope)
            if refused is not None:
                status, headers, body = refused
                await send({"type": "http.response.start", "status": status,
                            "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
