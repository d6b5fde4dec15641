"""`contest serve` with several processes: this process accepts the connections and hands them
to its server processes in turn, so each gets an even share of them.

With uvicorn's own `workers=N`, the processes accept from one shared listening socket; the one
that wakes first can take most of a burst of new connections, and a client that keeps 16
connections open then finds one process serving all of them while the other idles (half the
throughput, twice the latency; docs/serve.md). Handing the connected sockets over (SCM_RIGHTS on a
Unix socket per process, contest.serve.worker on the other end) makes the share deterministic.

A server process keeps some of the memory its large requests used even after giving the free part
back: the BLAS library keeps a buffer for every thread that called it at the same time as another
(about 15 MB each), the heaps keep fragments; more the heavier the load was. Each process reports
its resident memory as it starts (a fresh fork: the shared models and little else) and again when
idle after large requests; one idle at more than `idle_growth` above its starting size is replaced
by a fresh fork, the old one finishing its connections first. So a server at rest comes back to
the size it started at, however heavy the load was; the next large request costs the same in a
fresh process (nothing is loaded again).
"""
import errno
import os
import selectors
import signal
import socket
import time

import click

from contest.errors import ContestError

STOP_SECONDS = 15   # a stopping server process gets this long to finish its requests
RETIRE_SECONDS = 120   # a replaced one this long: its connections end by their own timeouts
SHORTAGES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
SHORTAGE_PAUSE = 0.1   # seconds
MIB = 2**20
SILENT_SECONDS = 5.0   # a server process without a heartbeat for this long is replaced
LATE_SECONDS = 1.5     # ... and is handed no new connection after this long


class ServerProcess:
    """One forked server process (contest.serve.worker) and our end of its channel."""

    def __init__(self, number, serve, close_in_child, idle_growth=None):
        self.number, self.serve, self.close_in_child = number, serve, close_in_child
        self.pid, self.channel, self.last_beat = None, None, 0.0
        self.idle_growth, self.fresh_size, self.grown_to = idle_growth, None, None
        self.retiring = []   # (pid, deadline) of replaced processes finishing their requests

    def start(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:   # the child: its own session (a Ctrl+C reaches the parent only)
            code = 1
            try:
                os.setsid()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                ours.close()
                self.close_in_child()
                self.serve(theirs)
                code = 0
            finally:
                os._exit(code)
        theirs.close()
        ours.setblocking(False)
        self.pid, self.channel, self.last_beat = pid, ours, time.monotonic()
        self.grown_to, self.fresh_size = None, None   # until the new process reports

    def hand(self, connection, strict=True):
        """Pass `connection` to this process; False if it cannot take it now (or, `strict`,
        its last heartbeat is late)."""
        if strict and time.monotonic() - self.last_beat > LATE_SECONDS:
            return False
        try:
            socket.send_fds(self.channel, [b"c"], [connection.fileno()])
            return True
        except OSError:
            return False

    def exit_status(self):
        """The process's exit status once it has ended, else None."""
        return exit_status(self.pid)

    def pids(self):
        """This process and the replaced ones still finishing."""
        return [self.pid] + [pid for pid, _ in self.retiring]

    def read_beats(self):
        """Note the heartbeats waiting on the channel; False at its end of file."""
        while True:
            try:
                message = self.channel.recv(16)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if not message:
                return False
            self.last_beat = time.monotonic()
            if message.startswith(b"m") and message[1:].isdigit():
                self.note_idle_memory(int(message[1:]))

    def note_idle_memory(self, resident):
        """A process's first report is its size as a fresh fork (sent as it starts); idle later
        at more than `idle_growth` above that, it is to be replaced."""
        if self.fresh_size is None:
            self.fresh_size = resident
        elif self.idle_growth is not None and resident > self.fresh_size * (1 + self.idle_growth):
            self.grown_to = resident

    def supervise(self):
        """Start the process again if it has exited or has sent no heartbeat for a while;
        replace it if its idle memory has grown."""
        alive = self.read_beats()
        self.reap_retired()
        status = self.exit_status()
        silent = time.monotonic() - self.last_beat
        if status is None and alive and silent <= SILENT_SECONDS:
            if self.grown_to is not None:
                self.replace_grown()
            return
        if status is None:
            log(f"server process {self.number} stopped answering (no heartbeat for "
                f"{silent:.0f} s); replacing it")
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        else:
            log(f"server process {self.number} exited (status {status}); starting a new one")
        self.channel.close()
        self.start()

    def replace_grown(self):
        """Start a fresh process in this slot; the old one, its channel closed, takes no new
        connection and ends once its connections have (killed after RETIRE_SECONDS)."""
        log(f"server process {self.number} holds {self.grown_to / MIB:.0f} MiB when idle, "
            f"more than {self.idle_growth:.0%} above its size when it started "
            f"({self.fresh_size / MIB:.0f} MiB); replacing it with a fresh one")
        self.channel.close()
        self.retiring.append((self.pid, time.monotonic() + RETIRE_SECONDS))
        self.start()

    def reap_retired(self):
        """Collect the replaced processes that have ended; kill those past their deadline."""
        still = []
        for pid, deadline in self.retiring:
            if ended(pid):
                continue
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                continue
            still.append((pid, deadline))
        self.retiring = still

    def stop(self):
        """SIGTERM this process and any replaced one still finishing: stop now (uvicorn's
        shutdown: the requests in progress are answered, idle connections closed)."""
        self.channel.close()   # end of file on the channel: it stops taking connections
        for pid in self.pids():
            if not ended(pid):
                os.kill(pid, signal.SIGTERM)

    def wait_or_kill(self, deadline):
        while time.monotonic() < deadline and (self.exit_status() is None or self.retiring):
            self.reap_retired()
            time.sleep(0.05)
        for pid in self.pids():
            if not ended(pid):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        self.retiring = []


def exit_status(pid):
    """Child `pid`'s exit status once it has ended (-1: collected before), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -1
    return None if done == 0 else os.waitstatus_to_exitcode(status)


def ended(pid):
    """Whether child `pid` has ended (collected now, or before)."""
    return exit_status(pid) is not None


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


def serve_balanced(host, port, workers, serve, idle_growth=None):
    """Accept connections on host:port until SIGTERM or Ctrl+C, handing each to the next of
    `workers` forked server processes; `serve(channel)` runs in each (contest.serve.worker).
    A process whose idle memory grows more than `idle_growth` (a fraction) is replaced."""
    listener = open_listener(host, port)
    processes = []

    def close_in_child():
        listener.close()
        for other in processes:
            if other.channel is not None:
                other.channel.close()
    processes += [ServerProcess(number, serve, close_in_child, idle_growth)
                  for number in range(workers)]
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
    """Give each accepted connection to the next live process in turn; between connections (and
    at least every half second) replace any process that has exited or stopped answering."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    turn = 0
    while True:
        if selector.select(timeout=0.5):
            connection = accept(listener)
            if connection is not None:
                with connection:
                    turn = hand_to_next(connection, processes, turn)
        for process in processes:
            process.supervise()


def hand_to_next(connection, processes, turn):
    """Hand `connection` to the next process in turn that takes it (one whose heartbeat is on
    time first); the next turn."""
    for strict in (True, False):
        for _ in processes:
            process = processes[turn]
            turn = (turn + 1) % len(processes)
            if process.hand(connection, strict):
                return turn
    return turn


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
        if process.pid is not None:
            process.stop()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        if process.pid is not None:
            process.wait_or_kill(deadline)
