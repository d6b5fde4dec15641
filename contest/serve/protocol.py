"""uvicorn's HTTP protocol (httptools) with the bounds it lacks: a limit on the size of a request's
headers (431) and timeouts for reading them and the body (408), so a client that sends half a
request, or a 200 MB header, cannot hold a connection or memory for good.

    header_timeout   seconds from a connection's start (or a request's first byte) to the end of
                     its headers; a connection that sends nothing is closed after it too
    body_timeout     seconds from the end of the headers to the end of the body
    max_header_bytes bytes of request line and headers

Each closed connection is logged in one line. The settings come from `configure` (a module
setting: uvicorn builds the protocol from its class, one per connection).
"""
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LIMITS = {"header_timeout": 10.0, "body_timeout": 60.0, "max_header_bytes": 64 * 1024}
LOG = logging.getLogger("uvicorn.error")


def configure(header_timeout=None, body_timeout=None, max_header_bytes=None):
    """Set the limits of every connection opened from now on (None: keep the current one)."""
    given = {"header_timeout": header_timeout, "body_timeout": body_timeout,
             "max_header_bytes": max_header_bytes}
    LIMITS.update({key: value for key, value in given.items() if value is not None})


class BoundedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with header size and read timeouts (see the module docstring)."""

    def connection_made(self, transport):
        super().connection_made(transport)
        self._reading_headers, self._header_bytes, self._timer = True, 0, None
        self._finishing, self._in_message = False, False
        self._arm(LIMITS["header_timeout"], "headers")

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data):
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._reading_headers and self._header_bytes > LIMITS["max_header_bytes"]:
            self._refuse(431, "Request Header Fields Too Large",
                         f"request headers over {LIMITS['max_header_bytes']} bytes")

    def on_message_begin(self):
        super().on_message_begin()
        self._in_message = True
        if not self._reading_headers:   # the next request on a kept-alive connection
            self._reading_headers, self._header_bytes = True, 0
            self._arm(LIMITS["header_timeout"], "headers")

    def on_headers_complete(self):
        self._reading_headers = False
        self._arm(LIMITS["body_timeout"], "body")
        super().on_headers_complete()
        if self._finishing and self.cycle is not None:
            self.cycle.keep_alive = False

    def finish(self):
        """Answer the request this connection has begun, if any, then close it; close it now
        if it has none (a server process that was replaced: its clients reconnect elsewhere)."""
        self._finishing = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        elif not self._in_message:
            self.transport.close()

    def on_message_complete(self):
        self._disarm()
        self._in_message = False
        super().on_message_complete()

    def _arm(self, seconds, what):
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._timed_out, what, seconds)

    def _disarm(self):
        if getattr(self, "_timer", None) is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self, what, seconds):
        self._timer = None
        self._refuse(408, "Request Timeout", f"request {what} not received within {seconds:g} s")

    def _refuse(self, status, reason, problem):
        """Answer `status` if no response has started, close the connection, log one line."""
        if self.transport.is_closing():
            return
        self._reading_headers = False
        client = "%s:%d" % self.client if self.client else "client"
        LOG.warning("%s: %s; connection closed", client, problem)
        if self.cycle is None or not self.cycle.response_started:
            body = ('{"error": "%s"}' % problem).encode()
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                                 % (status, reason.encode(), len(body), body))
        self.transport.close()
