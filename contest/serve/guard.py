"""What the service lets in: which Host and which bearer token (RequestGuard, an ASGI middleware),
and how many heavy decodes at once (Admission), so that memory stays bounded under any mix of
requests and a request over the bound gets 503 with Retry-After instead of a slow death.
"""
import hmac
import json
import logging

LOG = logging.getLogger("uvicorn.error")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
RETRY_AFTER_SECONDS = 1
# bytes in memory per byte of body while it is decoded and predicted (body, decoded array,
# float copy, parser pieces), per form; pictures add their decoded pixels (from the limit)
COST_PER_BODY_BYTE = {"npy": 6, "npz": 6, "idx": 6, "csv": 4, "json": 3, "picture": 2}
PICTURE_BYTES_PER_PIXEL = 8


class Admission:
    """At most `max_decodes` bodies decoded at once and at most `max_bytes` of estimated memory
    for them, per server process. Bodies of at most `free_below` bytes (single images) are not
    counted: they cost little, and they must not wait behind the large ones."""

    def __init__(self, max_decodes=2, max_bytes=384 * 2**20, free_below=1 << 16,
                 picture_pixels=4096 * 4096):
        self.max_decodes, self.max_bytes, self.free_below = max_decodes, max_bytes, free_below
        self.picture_bytes = picture_pixels * PICTURE_BYTES_PER_PIXEL
        self.decodes, self.bytes = 0, 0

    def cost(self, form, length):
        """Estimated peak bytes of decoding and predicting a `form` body of `length` bytes."""
        extra = self.picture_bytes if form == "picture" else 0
        return COST_PER_BODY_BYTE.get(form, 6) * length + extra

    def admit(self, form, length):
        """A ticket to `release`, or None when over the bound (the caller answers 503).
        Runs on the event loop only, so the counters need no lock."""
        if length <= self.free_below and form != "picture":
            return 0
        cost = min(self.cost(form, length), self.max_bytes)   # one request always fits alone
        if self.decodes >= self.max_decodes or self.bytes + cost > self.max_bytes:
            return None
        self.decodes, self.bytes = self.decodes + 1, self.bytes + cost
        return cost

    def release(self, ticket):
        if ticket:
            self.decodes, self.bytes = self.decodes - 1, self.bytes - ticket


def allowed_hosts(host, port, extra=()):
    """Host header values accepted for a service bound to `host`:`port`: the address itself,
    the loopback names for a loopback or wildcard address, and `extra` ('*': any)."""
    names = {host, f"[{host}]"} | set(extra)
    if host in LOOPBACK_NAMES or host in ("0.0.0.0", "::", ""):
        names |= set(LOOPBACK_NAMES)
    return {name.lower() for name in names} | {f"{name.lower()}:{port}" for name in names}


class RequestGuard:
    """ASGI middleware: refuse (421) a Host header not in `hosts` (None: any) and (401) a request
    without `Authorization: Bearer <token>` when a token is set."""

    def __init__(self, app, hosts=None, token=None):
        self.app, self.hosts, self.token = app, hosts, token

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            problem = self.problem(dict(scope["headers"]))
            if problem is not None:
                await _json_answer(send, *problem)
                return
        await self.app(scope, receive, send)

    def problem(self, headers):
        if self.hosts is not None and "*" not in self.hosts:
            host = headers.get(b"host", b"").decode("latin-1").strip().lower()
            if host not in self.hosts:
                return 421, f"Host {host or '(none)'!r} is not this service's address (start " \
                            "it with --allow-host NAME to accept that name)", {}
        if self.token is not None:
            given = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(),
                                                                     self.token.encode()):
                return 401, "missing or wrong bearer token (Authorization: Bearer TOKEN)", \
                    {"www-authenticate": "Bearer"}
        return None


async def _json_answer(send, status, message, headers):
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
