"""The options of `contest serve` (click only: `contest --help` stays fast) and the settings they
make (contest.serve.run.ServeSettings)."""
import click

MIB = 2**20


def serve_options(command):
    """Decorate the `serve` command with every option of the service."""
    for option in reversed(_exposure_options() + _resource_options()):
        command = option(command)
    return command


def _exposure_options():
    """Where the service listens, who may use it, and how many processes serve it."""
    return [
        click.option("--host", default="127.0.0.1", help="address to listen on (loopback: this "
                     "machine only; 0.0.0.0 opens it to the network, with a warning: there is no "
                     "authentication unless --token is given)"),
        click.option("--port", type=click.IntRange(0, 65535), default=8000,
                     help="port to listen on"),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="server processes, forked after the models are loaded (they share "
                          "them); connections are handed to them in turn [default: one per core]"),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="threads per prediction [default: one per core]"),
        click.option("--max-batch", type=click.IntRange(min=1), default=10000,
                     help="most images per request; also sets the request body size limit"),
        click.option("--access-log", is_flag=True,
                     help="print a line per request (costs throughput)"),
        click.option("--token", default=None, help="require 'Authorization: Bearer TOKEN' on "
                     "every request (visible in the process list: prefer --token-file)"),
        click.option("--token-file", type=click.Path(dir_okay=False), default=None,
                     help="read the bearer token from this file (its first line)"),
        click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
                     help="also accept this Host header (a name the service is reached by); "
                          "'*' accepts any [default: the bound address, and localhost names on "
                          "loopback]"),
    ]


def _resource_options():
    """The bounds on what one server process takes (memory, time)."""
    return [
        click.option("--max-decodes", type=click.IntRange(min=1), default=2,
                     help="large request bodies decoded at once per server process; more get "
                          "503 + Retry-After"),
        click.option("--decode-memory", type=click.IntRange(min=1), default=384, metavar="MIB",
                     help="memory for the large bodies being decoded at once per server "
                          "process, in MiB; more gets 503 + Retry-After"),
        click.option("--idle-memory-growth", type=click.FloatRange(min=0), default=10.0,
                     metavar="PERCENT",
                     help="a server process that, idle after large requests, holds this much "
                          "more memory than when it started is replaced by a fresh one (with "
                          "--workers 2 or more)"),
        click.option("--header-timeout", type=click.FloatRange(min=0.01), default=10.0,
                     help="seconds a client has to send a request's headers"),
        click.option("--body-timeout", type=click.FloatRange(min=0.01), default=60.0,
                     help="seconds a client has to send a request's body"),
    ]


def settings_of(options):
    """The ServeSettings of the parsed options (a dict of the command's keyword arguments)."""
    from contest.serve.run import ServeSettings

    options = dict(options)
    options["decode_memory"] = options["decode_memory"] * MIB
    return ServeSettings(**options)
