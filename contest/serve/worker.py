"""One server process of `contest serve` with several processes: a fork of the parent, which
loaded and verified the models once (the children share them, copy-on-write), serving the
connections that the parent hands it; it has no listening socket of its own.

The parent (contest.serve.balancer) accepts every connection and passes the connected socket to
its processes in turn over a Unix socket, so each process gets an even share. When processes
accept from one shared listening socket instead, the one that wakes first can take most of a
burst of new connections while the other idles (docs/serve.md). Over the same socket the process
sends a heartbeat every HEARTBEAT_SECONDS, so that the parent can replace a process that stopped
answering (stopped, or stuck), and its resident memory (`memory_reporter`) as it starts and
once idle after large requests, so that the parent can replace a process that grew.
"""
import asyncio
import socket

import uvicorn

from contest.serve.memory import resident_bytes

HEARTBEAT_SECONDS = 0.5


class HandedConnectionsServer(uvicorn.Server):
    """A uvicorn server fed with accepted connections, one file descriptor per message on
    `channel`; when the parent closes the channel (or exits) it takes no more and stops once
    the connections it has are done; on SIGTERM it stops at once (uvicorn's shutdown)."""

    def __init__(self, config, channel):
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets=None):
        await super().startup(sockets=[])   # loads the app; no listening socket
        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._take_connections, loop)
        resident = resident_bytes()
        if resident is not None:
            memory_reporter(self.channel)(resident)   # the size this process starts at
        self._beat(loop)

    def _beat(self, loop):
        """Tell the parent this process's event loop is alive, again and again."""
        try:
            self.channel.send(b"h")
        except (BlockingIOError, InterruptedError):
            pass   # the parent is busy: the next beat will do
        except OSError:
            return   # the parent is gone; the channel's end of file stops the server
        loop.call_later(HEARTBEAT_SECONDS, self._beat, loop)

    async def shutdown(self, sockets=None):
        asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=None)

    def _take_connections(self, loop):
        """Serve every connection waiting on the channel; on end of file, stop the server."""
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.channel, 1, 1)
            except BlockingIOError:
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:   # replaced, or the parent is gone: take no more
                loop.remove_reader(self.channel.fileno())
                loop.create_task(self._finish_connections())
                return
            for fd in fds:
                loop.create_task(self._serve_connection(loop, socket.socket(fileno=fd)))

    async def _finish_connections(self):
        """Stop once every connection in hand has ended: idle ones are closed now, the others
        after the request they have begun (or by the header and body timeouts), so no client is
        cut off mid-request and a kept-alive one reconnects to another process."""
        for connection in list(self.server_state.connections):
            connection.finish()
        while self.server_state.connections:
            await asyncio.sleep(0.1)
        self.should_exit = True

    async def _serve_connection(self, loop, connection):
        try:
            await loop.connect_accepted_socket(lambda: self._protocol(loop), connection)
        except OSError:
            connection.close()

    def _protocol(self, loop):
        """The HTTP protocol uvicorn's own listening server would create for a connection."""
        return self.config.http_protocol_class(config=self.config, server_state=self.server_state,
                                               app_state=self.lifespan.state, _loop=loop)


def memory_reporter(channel):
    """A function telling the parent this process's idle resident memory in bytes (b"m<bytes>":
    contest.serve.balancer reads it beside the heartbeats)."""
    def report(resident):
        try:
            channel.send(b"m%d" % resident)
        except OSError:
            pass   # the parent is busy or gone: the next report will do, or nothing needs it
    return report


def serve_handed(channel, app, access_log=False):
    """Run `app` (an ASGI app) on the connections handed over `channel` until it closes."""
    from contest.serve.protocol import BoundedHttpProtocol

    config = uvicorn.Config(app, log_level="info", access_log=access_log,
                            http=BoundedHttpProtocol)
    HandedConnectionsServer(config, channel).run()
