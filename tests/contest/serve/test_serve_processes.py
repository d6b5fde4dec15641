"""`contest serve --workers 2` as a real command: the parent process hands the connections to its
two server processes in turn, so each serves half of them; stopping or killing the parent stops
them, and a server process that dies is replaced."""
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contest_testutil import alive, children, free_port

pytest.importorskip("uvicorn", reason="the serve extra is not installed")


def established_connections(pid, port):
    """How many TCP connections to local `port` process `pid` holds open (state ESTABLISHED),
    from /proc/net/tcp and the socket inodes of the process's descriptors."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def wait_for(condition, seconds=30, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {seconds} s")


def health(connection):
    connection.request("GET", "/health")
    response = connection.getresponse()
    body = response.read()
    return response.status, body


class Server:
    def __init__(self, models, *options):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "contest", "serve", "--models", str(models), "--port",
             str(self.port), "--workers", "2", "--threads", "1", *map(str, options)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(self.answers, what="server ready")
            wait_for(lambda: len(children(self.process.pid)) == 2, what="two server processes")
        except BaseException:
            self.close()   # no server left running after a failed start
            raise

    def answers(self):
        assert self.process.poll() is None, self.process.stderr.read().decode(errors="replace")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Connection: close\r\n\r\n")
                return sock.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        for pid in children(self.process.pid):
            os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process.stderr.close()


@pytest.fixture
def server(models):
    running = Server(models)
    try:
        yield running
    finally:
        running.close()


def test_kept_alive_connections_are_shared_evenly_between_the_server_processes(server):
    workers = children(server.process.pid)
    connections = [server.connect() for _ in range(8)]
    for connection in connections:
        assert health(connection)[0] == 200
    for connection in connections:   # kept alive: the same connections answer again
        assert health(connection)[0] == 200
    held = {pid: established_connections(pid, server.port) for pid in workers}
    assert held == {pid: 4 for pid in workers}
    for connection in connections:
        connection.close()


def test_sigterm_stops_the_server_processes_too(server):
    workers = children(server.process.pid)
    server.process.terminate()
    assert server.process.wait(timeout=30) == 0
    wait_for(lambda: not any(alive(pid) for pid in workers), what="server processes stopped")
    assert b"Shutting down" in server.process.stderr.read()


def test_kill_9_of_the_parent_stops_the_server_processes(server):
    workers = children(server.process.pid)
    server.process.kill()
    server.process.wait(timeout=30)
    wait_for(lambda: not any(alive(pid) for pid in workers), what="server processes stopped")


def test_a_server_process_that_dies_is_replaced_and_the_next_connections_are_answered(server):
    first, second = children(server.process.pid)
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not alive(first), what="server process killed")
    for _ in range(4):
        connection = server.connect()
        assert health(connection)[0] == 200
        connection.close()
    replaced = children(server.process.pid)
    assert len(replaced) == 2 and second in replaced and first not in replaced
    assert b"exited (status -9); starting a new one" in server.process.stderr.read1(1 << 16)


class FlakyListener:
    """A listening socket whose accept fails with `errors` first, then gives `connection`."""

    def __init__(self, errors, connection):
        self.errors, self.connection = list(errors), connection

    def accept(self):
        if self.errors:
            raise self.errors.pop(0)
        return self.connection, ("127.0.0.1", 1)


def test_the_parent_goes_on_accepting_after_a_shortage_of_file_descriptors(monkeypatch, capsys):
    import errno

    from contest.serve import balancer

    monkeypatch.setattr(balancer, "SHORTAGE_PAUSE", 0)
    listener = FlakyListener([OSError(errno.EMFILE, "Too many open files"),
                              ConnectionAbortedError()], connection="next")
    assert balancer.accept(listener) is None
    assert balancer.accept(listener) is None
    assert balancer.accept(listener) == "next"
    assert "cannot accept a connection now (Too many open files); retrying" in \
        capsys.readouterr().err


def test_an_unexpected_accept_error_is_not_hidden():
    import errno

    from contest.serve import balancer

    with pytest.raises(OSError, match="Bad file descriptor"):
        balancer.accept(FlakyListener([OSError(errno.EBADF, "Bad file descriptor")], None))


def test_a_port_taken_after_the_check_is_refused_in_one_line():
    """The command checks the address before loading the models; if another program takes
    the port in between, the listening socket's error is still one line and status 2."""
    from contest.errors import ContestError
    from contest.serve import balancer

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ContestError, match=f"--host 127.0.0.1 --port {port}: cannot listen"):
            balancer.open_listener("127.0.0.1", port)


def reports_then_waits(marker):
    """A stand-in server process: it reports its starting size and, the first time only, a
    grown idle size; then it serves until its channel closes (as contest.serve.worker does)."""
    def serve(channel):
        channel.send(b"h")
        channel.send(b"m%d" % (100 * 2**20))
        if not marker.exists():
            marker.write_text("grown once")
            channel.send(b"m%d" % (120 * 2**20))
        while channel.recv(16):
            pass
    return serve


def test_a_server_process_whose_idle_memory_grew_is_replaced_by_a_fresh_one(tmp_path, capsys):
    from contest.serve.balancer import ServerProcess

    slot = ServerProcess(0, reports_then_waits(tmp_path / "grown"), lambda: None,
                         idle_growth=0.1)
    slot.start()
    first = slot.pid
    try:
        wait_for(lambda: slot.supervise() or slot.pid != first, what="replacement")
        wait_for(lambda: slot.supervise() or not slot.retiring, what="the old process ends")
        assert not alive(first) and alive(slot.pid)
        for _ in range(10):   # the fresh process reports only its starting size: it stays
            slot.supervise()
            time.sleep(0.05)
        assert alive(slot.pid) and slot.grown_to is None and slot.fresh_size == 100 * 2**20
    finally:
        slot.stop()
        slot.wait_or_kill(time.monotonic() + 10)
    assert "server process 0 holds 120 MiB when idle, more than 10% above its size when it " \
           "started (100 MiB); replacing it with a fresh one" in capsys.readouterr().err


def test_idle_memory_within_the_growth_keeps_the_process():
    from contest.serve.balancer import ServerProcess

    slot = ServerProcess(0, None, None, idle_growth=0.05)
    slot.note_idle_memory(100)   # as it starts
    slot.note_idle_memory(105)
    assert slot.grown_to is None
    slot.note_idle_memory(106)
    assert slot.grown_to == 106 and slot.fresh_size == 100


async def echo_length_app(scope, receive, send):
    """A minimal ASGI app: answers a request with its body's length."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def read_answer(client, end=b"\r\n\r\n10"):
    """The bytes `client` receives until `end` or its connection's end of file."""
    client.settimeout(10)
    answer = b""
    while not answer.endswith(end):   # the head and the body may come apart
        part = client.recv(4096)
        if not part:
            break
        answer += part
    return answer


def test_a_replaced_server_process_answers_the_request_in_progress_before_it_ends():
    """The parent closes the channel of a process it replaces: the process takes no new
    connection and closes its idle kept-alive ones (their clients reconnect elsewhere), but a
    client in the middle of sending its request is still answered, then the process ends."""
    from contest.serve.worker import serve_handed

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            serve_handed(theirs, echo_length_app)
        finally:
            os._exit(0)
    theirs.close()
    (idle, idle_served), (client, served) = socket.socketpair(), socket.socketpair()
    with idle, client:
        for handed in (idle_served, served):   # one per message, as the parent hands them
            socket.send_fds(ours, [b"c"], [handed.fileno()])
        idle_served.close()
        served.close()
        idle.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1234567890")
        assert read_answer(idle).startswith(b"HTTP/1.1 200")   # and the connection kept alive
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")   # half its headers so far
        time.sleep(0.5)
        ours.close()   # replaced: end of file on its channel
        time.sleep(0.5)
        assert alive(pid)   # still finishing the request in progress
        asked = time.monotonic()
        assert idle.recv(16) == b""   # the idle kept-alive connection is closed at once, not
        assert time.monotonic() - asked < 2   # after uvicorn's 5-second keep-alive timeout
        client.sendall(b"Content-Length: 10\r\n\r\n1234567890")
        answer = read_answer(client)
        assert client.recv(16) == b""   # answered, then closed: not kept alive
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n10")
    wait_for(lambda: os.waitpid(pid, os.WNOHANG)[0] == pid, what="the process ends")
