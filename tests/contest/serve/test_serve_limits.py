"""`contest serve` holds its resources, run as the real command in a subprocess with small
limits: stalled and oversized requests are cut off, heavy requests beyond the decode bound get
503 + Retry-After while memory stays bounded, a stopped server process is replaced, and a member
file changed on disk can neither crash-loop the service nor start it."""
import concurrent.futures
import http.client
import io
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from contest_testutil import alive, children
from test_serve_processes import Server, health, server, wait_for  # noqa: F401 (a fixture)

pytest.importorskip("uvicorn", reason="the serve extra is not installed")
MIB = 2**20


@pytest.fixture
def start():
    """start(models, *options): a running Server, stopped at the end of the test whatever
    happens."""
    started = []

    def make(models, *options):
        started.append(Server(models, *options))
        return started[-1]
    yield make
    for running in started:
        running.close()


def rss(pid):
    """Resident memory in bytes of `pid` and its children (Linux /proc)."""
    total = 0
    for member in [pid] + children(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                line = next(line for line in status if line.startswith("VmRSS:"))
            total += int(line.split()[1]) * 1024
        except (OSError, StopIteration):
            continue
    return total


def stop_and_read_log(server):
    server.process.terminate()
    log = server.process.stderr.read().decode(errors="replace")
    server.close()
    return log


def big_png(side=4096):
    paper = np.full((side, side), 255, dtype=np.uint8)
    paper[side // 5:4 * side // 5, side // 2 - side // 20:side // 2 + side // 20] = 0
    buffer = io.BytesIO()
    Image.fromarray(paper).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def post(port, body, content_type, timeout=60):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), response.read()
    finally:
        connection.close()


def test_stalled_connections_are_cut_off_after_the_timeouts_and_logged(models, start):
    server = start(models, "--header-timeout", "0.5", "--body-timeout", "0.5")
    stalled = []
    for number in range(12):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        if number % 2:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         b"application/json\r\nContent-Length: 5000\r\n\r\n[1, 2")
        else:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        stalled.append(sock)
    answers = [sock.recv(1024) for sock in stalled]   # each is answered, then closed
    assert all(answer.startswith(b"HTTP/1.1 408") or answer == b"" for answer in answers)
    assert all(sock.recv(1024) == b"" for sock in stalled)
    connection = server.connect()
    assert health(connection)[0] == 200
    log = stop_and_read_log(server)
    assert log.count("request headers not received within 0.5 s") == 6
    assert log.count("request body not received within 0.5 s") == 6
    assert "Traceback" not in log


def test_a_huge_header_is_refused_without_keeping_its_memory(server):
    before = rss(server.process.pid)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 50 * MIB)
        except OSError:
            pass   # the server closed the connection while we were still sending
        assert sock.recv(1024).startswith(b"HTTP/1.1 431")
    assert rss(server.process.pid) - before < 20 * MIB
    assert health(server.connect())[0] == 200


def test_a_client_that_goes_away_mid_upload_is_logged_in_one_line(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/x-npy\r\nContent-Length: 1000000\r\n\r\n" + bytes(70000))
    wait_for(lambda: health(server.connect())[0] == 200, what="still serving")
    time.sleep(0.5)
    log = stop_and_read_log(server)
    assert log.count("client went away after") == 1
    assert "Traceback" not in log and "Exception in ASGI application" not in log


def test_heavy_requests_beyond_the_bound_get_503_and_memory_stays_bounded(models, start):
    server = start(models, "--max-decodes", "1", "--decode-memory", "200")
    baseline, picture = rss(server.process.pid), big_png()
    peak, done = [baseline], []

    def sample():
        while not done:
            peak.append(rss(server.process.pid))
            time.sleep(0.05)
    with concurrent.futures.ThreadPoolExecutor(9) as pool:
        sampler = pool.submit(sample)
        answers = list(pool.map(lambda _: post(server.port, picture, "image/png"), range(8)))
        done.append(True)
        sampler.result()
    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, statuses
    assert all(retry == "1" for status, retry, _ in answers if status == 503)
    # two processes, each decoding at most one 4096x4096 picture (64 MiB RGBA) at a time
    assert max(peak) - baseline < 2 * 200 * MIB, (max(peak) - baseline) / MIB


def test_the_server_at_rest_comes_back_to_its_starting_size_after_heavy_requests(models, start):
    """Large requests from several clients at once leave a server process holding more (a BLAS
    buffer per thread that called it at the same time as another, heap fragments); once idle,
    such a process is replaced by a fresh fork, so the server comes back to its starting size."""
    server = start(models)
    before = rss(server.process.pid)
    images = np.random.default_rng(0).integers(0, 256, (3000, 28, 28), dtype=np.uint8)
    body = io.BytesIO()
    np.save(body, images)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(server.port, body.getvalue(),
                                               "application/x-npy"), range(8)))
    assert 200 in {status for status, _, _ in answers}
    wait_for(lambda: rss(server.process.pid) < 1.15 * before, seconds=30,
             what=f"back near the starting {before / MIB:.0f} MiB")
    assert health(server.connect())[0] == 200   # and it answers on
    assert "replacing it with a fresh one" in stop_and_read_log(server)


def test_a_stopped_server_process_is_replaced(server):
    first, second = children(server.process.pid)
    os.kill(first, signal.SIGSTOP)
    wait_for(lambda: first not in children(server.process.pid), seconds=30,
             what="stopped process replaced")
    for _ in range(4):
        assert health(server.connect())[0] == 200
    assert len(children(server.process.pid)) == 2 and not alive(first)
    assert b"stopped answering" in server.process.stderr.read1(1 << 16)


def test_a_member_file_changed_while_serving_cannot_take_the_service_down(models_copy, start):
    server = start(models_copy)
    with open(models_copy / "member-0.npz", "r+b") as member:
        member.truncate(1000)
    first, _ = children(server.process.pid)
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: len(children(server.process.pid)) == 2 and
             first not in children(server.process.pid), what="replaced")
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2, 28, 28), np.uint8))
    for _ in range(6):   # both processes answer, the new one from the parent's models
        assert post(server.port, buffer.getvalue(), "application/x-npy")[0] == 200


def test_a_member_file_changed_before_the_start_stops_the_command_with_one_line(models_copy):
    with open(models_copy / "member-0.npz", "r+b") as member:
        member.truncate(1000)
    result = subprocess.run([sys.executable, "-m", "contest", "serve", "--models",
                             str(models_copy), "--port", "0"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "sha256 mismatch" in result.stderr
