"""Starting the service: check the settings, load and verify the models, then run uvicorn (in
this process, or in several that contest.serve.balancer hands the connections to)."""
import json
import os
import socket

from contest.errors import ContestError
from contest.serve.balancer import address_family, cannot_listen


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


def run_server(models, host="127.0.0.1", port=8000, workers=None, threads=None, max_batch=10000,
               access_log=False):
    """Serve the ensemble of `models` until interrupted. The models are loaded and verified
    here first, so a bad model directory stops the command before any port is opened. uvicorn
    picks httptools and uvloop (dependencies of the serve extra) over its pure-Python defaults;
    the line per request is off unless `access_log`. With several `workers`, this process
    accepts the connections and shares them out evenly (contest.serve.balancer)."""
    check_installed()
    check_address(host, port)
    from contest.api import Ensemble
    from contest.modeldir.ensemble import available_cores
    from contest.serve.app import SETTINGS_VARIABLE, Service, create_app
    from contest.serve.balancer import serve_balanced

    ensemble = Ensemble.load(models)
    workers = workers or available_cores()
    if workers == 1:
        import uvicorn

        app = create_app(Service(ensemble, max_batch=max_batch, threads=threads))
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log)
        return
    del ensemble   # each server process loads its own copy
    os.environ[SETTINGS_VARIABLE] = json.dumps(
        {"models": str(models), "max_batch": max_batch, "threads": threads, "workers": workers})
    serve_balanced(host, port, workers, access_log)
