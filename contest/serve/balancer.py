"""`contest serve` with several processes: this process accepts the connections and hands them
to its server processes in turn, so each gets an even share of them.

With uvicorn's own `workers=N`, the processes accept from one shared listening socket; the one
that wakes first can take most of a burst of new connections, and a client that keeps 16
connections open then finds one process serving all of them while the other idles (half the
throughput, twice the latency; docs/serve.md). Handing the connected sockets over (SCM_RIGHTS on a
Unix socket per process, contest.serve.worker on the other end) makes the share deterministic.
"""
import errno
import signal
import socket
import subprocess
import sys
import time

import click

from contest.errors import ContestError

STOP_SECONDS = 15   # a stopping server process gets this long to finish its requests
SHORTAGES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
SHORTAGE_PAUSE = 0.1   # seconds


class ServerProcess:
    """One `python -m contest.serve.worker` process and our end of its channel."""

    def __init__(self, number, access_log):
        self.number, self.access_log = number, access_log
        self.process, self.channel = None, None

    def start(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            command = [sys.executable, "-m", "contest.serve.worker", str(theirs.fileno()),
                       "1" if self.access_log else "0"]
            # its own session: a Ctrl+C reaches this process only, which stops the others once
            self.process = subprocess.Popen(command, pass_fds=[theirs.fileno()],
                                            start_new_session=True)
        self.channel = ours

    def hand(self, connection):
        """Pass `connection` to this process; False if it cannot take it (it has exited)."""
        try:
            socket.send_fds(self.channel, [b"c"], [connection.fileno()])
            return True
        except OSError:
            return False

    def restart_if_exited(self):
        code = self.process.poll()
        if code is not None:
            log(f"server process {self.number} exited (status {code}); starting a new one")
            self.channel.close()
            self.start()

    def stop(self):
        self.channel.close()   # end of file on the channel: it stops taking connections
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, deadline):
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def log(message):
    click.echo(f"INFO:     {message}", err=True)


def address_family(host, port):
    """AF_INET or AF_INET6, as `host` resolves (OSError if it does not)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]


def cannot_listen(host, port, exc):
    """The one-line error for an address this process cannot listen on."""
    return ContestError(f"--host {host} --port {port}: cannot listen there "
                        f"({exc.strerror or exc})")


def open_listener(host, port):
    """The listening socket on `host`:`port` (IPv4 or IPv6, as the host resolves); a one-line
    error if the address cannot be listened on (taken since the command checked it)."""
    try:
        return socket.create_server((host, port), family=address_family(host, port),
                                    backlog=2048)
    except OSError as exc:
        raise cannot_listen(host, port, exc) from None


class Stop(Exception):
    """SIGTERM or SIGINT arrived."""


def raise_stop(signum, frame):
    raise Stop


def serve_balanced(host, port, workers, access_log=False):
    """Accept connections on host:port until SIGTERM or Ctrl+C, handing each to the next of
    `workers` server processes (their settings in the environment, see contest.serve.worker)."""
    listener = open_listener(host, port)
    processes = [ServerProcess(number, access_log) for number in range(workers)]
    previous = {sig: signal.signal(sig, raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.start()
        shown_host = f"[{host}]" if ":" in host else host
        log(f"contest serve running on http://{shown_host}:{listener.getsockname()[1]} with "
            f"{workers} server processes (Press CTRL+C to quit)")
        hand_out(listener, processes)
    except Stop:
        log("Shutting down")
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)   # a second signal does not cut the stop short
        listener.close()
        stop_all(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def hand_out(listener, processes):
    """Give each accepted connection to the next process in turn (skipping one that has exited,
    which is started again)."""
    turn = 0
    while True:
        connection = accept(listener)
        if connection is None:
            continue
        with connection:
            for _ in processes:
                process = processes[turn]
                turn = (turn + 1) % len(processes)
                if process.hand(connection):
                    break
                process.restart_if_exited()


def accept(listener):
    """The next connection, or None after an error that leaves the server able to go on: the
    client gave up first, or this process is out of file descriptors or memory for a moment
    (then it waits a little, as the connections it handed out close)."""
    try:
        connection, _ = listener.accept()
        return connection
    except (ConnectionAbortedError, InterruptedError):
        return None
    except OSError as exc:
        if exc.errno not in SHORTAGES:
            raise
        log(f"cannot accept a connection now ({exc.strerror}); retrying")
        time.sleep(SHORTAGE_PAUSE)
        return None


def stop_all(processes):
    for process in processes:
        if process.process is not None:
            process.stop()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        if process.process is not None:
            process.wait_or_kill(deadline)
