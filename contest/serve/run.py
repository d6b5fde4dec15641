"""Starting the service: check the settings, load and verify the models once, then run uvicorn
(in this process, or in several forked from it that contest.serve.balancer hands the connections
to). The models are loaded here, before any port is opened, so a bad model directory stops the
command with one line; forked server processes share this copy, so a member file changed on disk
while serving cannot make a replacement process fail."""
import ipaddress
import socket
from dataclasses import dataclass

import click

from contest.errors import ContestError
from contest.serve.balancer import address_family, cannot_listen


@dataclass(frozen=True)
class ServeSettings:
    """Every setting of `contest serve` (see contest.serve.options for their meaning)."""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = None
    threads: int = None
    max_batch: int = 10000
    access_log: bool = False
    token: str = None
    token_file: str = None
    allow_hosts: tuple = ()
    max_decodes: int = 2
    decode_memory: int = 384 * 2**20
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_memory_growth: float = 10.0


def check_installed():
    """Refuse with one line when the optional serve dependencies are missing."""
    try:
        import fastapi  # noqa: F401
        import fastapi_offline  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ContestError(f"contest serve needs the optional 'serve' dependencies ({exc.name} "
                           "is missing): pip install 'contest-cnn[serve]'") from None


def check_address(host, port):
    """Refuse with one line an address this process cannot listen on (in use, not ours)."""
    try:
        with socket.socket(address_family(host, port), socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise cannot_listen(host, port, exc) from None


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(settings):
    """The bearer token of --token or --token-file (its first line), or None."""
    if settings.token is not None and settings.token_file is not None:
        raise ContestError("--token and --token-file: give one of them")
    token = settings.token
    if settings.token_file is not None:
        try:
            with open(settings.token_file, encoding="utf-8-sig") as handle:
                token = handle.readline().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ContestError(f"{settings.token_file}: cannot read the token "
                               f"({getattr(exc, 'strerror', None) or exc})") from None
    if token is not None and (len(token) < 8 or not token.isprintable() or " " in token):
        raise ContestError("--token: expected at least 8 printable characters, no spaces")
    return token


def warn_exposure(settings, token):
    if not is_loopback(settings.host):
        click.echo(f"Warning: --host {settings.host} makes the service reachable from other "
                   "machines; " + ("every request must carry the bearer token" if token else
                                   "there is no authentication: anyone who can reach it can "
                                   "use it (give --token or --token-file)"), err=True)


def run_server(models, settings=ServeSettings()):
    """Serve the ensemble of `models` until interrupted (see the module docstring). uvicorn
    runs httptools and uvloop (dependencies of the serve extra) with contest's header limit and
    read timeouts (contest.serve.protocol); the line per request is off unless access_log."""
    check_installed()
    token = read_token(settings)
    check_address(settings.host, settings.port)
    import nnlib as nn
    from nnlib.runtime.threads import available_cores

    from contest.api import Ensemble
    from contest.serve import protocol
    from contest.serve.memory import limit_arenas

    limit_arenas()   # before any thread: every server process shares a few heaps
    nn.retain_freed_memory()   # the service's choice (faster passes), not contest.Ensemble's
    ensemble = Ensemble.load(models)
    warn_exposure(settings, token)
    protocol.configure(settings.header_timeout, settings.body_timeout)
    workers = settings.workers or available_cores()
    make_app = _app_maker(ensemble, settings, token, workers)
    if workers == 1:
        import uvicorn

        uvicorn.run(make_app(), host=settings.host, port=settings.port, log_level="info",
                    access_log=settings.access_log, http=protocol.BoundedHttpProtocol)
        return
    from contest.serve.balancer import serve_balanced
    from contest.serve.worker import memory_reporter, serve_handed

    serve_balanced(settings.host, settings.port, workers,
                   lambda channel: serve_handed(channel, make_app(memory_reporter(channel)),
                                                settings.access_log),
                   idle_growth=settings.idle_memory_growth / 100)


def _app_maker(ensemble, settings, token, workers):
    """A function making the app of one server process (in it: its threads start there)."""
    from contest.serve.app import Service, create_app
    from contest.serve.guard import Admission, allowed_hosts

    hosts = None if "*" in settings.allow_hosts else \
        allowed_hosts(settings.host, settings.port, settings.allow_hosts)

    def make_app(idle_memory_report=None):
        admission = Admission(settings.max_decodes, settings.decode_memory)
        return create_app(Service(ensemble, max_batch=settings.max_batch,
                                  threads=settings.threads, processes=workers,
                                  admission=admission, hosts=hosts, token=token,
                                  idle_memory_report=idle_memory_report))
    return make_app
