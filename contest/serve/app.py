"""The HTTP service of `contest serve`: a FastAPI app around one verified ensemble.

    GET  /          the page: draw a digit, see every member's vote; upload a file, get the CSV
    GET  /health    200 {"status": "ready"} once the models are loaded, 503 while loading
    GET  /info      input spec, members with their accuracies, preset
    POST /predict   images as .npy, Kaggle CSV, PNG or JSON lists (by Content-Type) -> JSON with
                    labels, probabilities, member votes; a Kaggle submission with Accept: text/csv
    GET  /docs      the OpenAPI page, working offline (/redoc: another view; /openapi.json)

Bad requests get a 4xx JSON {"error": "..."} naming the problem; nothing is written from a request.
Prediction runs in chunks of `chunk` images, so a large request's memory stays bounded.
"""
import asyncio
import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from contest.data.preprocess import to_unit_nchw
from contest.data.spec import MNIST
from contest.errors import ContestError
from contest.serve import bodies
from contest.serve.bodies import RequestProblem
from contest.serve.guard import RETRY_AFTER_SECONDS, Admission, RequestGuard
from contest.serve.memory import resident_bytes, trim_heap
from contest.serve.inspect_routes import inspect_router

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_BATCH = 10000
CHUNK = 1000
TRIM_DELAY = 1.0   # seconds after the last large request before the heap is trimmed
BULK_IMAGES = 64   # requests of this many images or more are predicted apart from small ones
SMALL_BODY = 1 << 16   # bytes; smaller bodies (but PNG) are answered on the event loop
MAX_SHOWN_IMAGES = 64
LOG = logging.getLogger("uvicorn.error")
PREDICT_BODY = {"requestBody": {"required": True, "content": {
    "application/x-npy": {"schema": {"type": "string", "format": "binary"}},
    "text/csv": {"schema": {"type": "string"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {"type": "array", "items": {}}}}}}


class Service:
    """The ensemble (once loaded) and the request limits."""

    def __init__(self, ensemble=None, models_dir=None, max_batch=DEFAULT_MAX_BATCH, threads=None,
                 chunk=CHUNK, processes=1, admission=None, hosts=None, token=None,
                 idle_memory_report=None):
        self.ensemble, self.models_dir, self.load_error = ensemble, models_dir, None
        self.max_batch, self.threads, self.chunk = max_batch, threads, chunk
        self.processes = processes   # server processes sharing the cores (--workers)
        self.admission = admission or Admission()
        self.hosts, self.token = hosts, token   # None: any Host header, no token
        self._batchers, self._batcher_lock = {}, threading.Lock()
        self.idle_memory_report = idle_memory_report   # called with the idle process's RSS

    def report_idle_memory(self):
        """Tell `idle_memory_report` this process's resident memory, if it is idle."""
        if self.idle_memory_report is not None and self.admission.decodes == 0:
            resident = resident_bytes()
            if resident is not None:
                self.idle_memory_report(resident)

    def load(self):
        """Load and verify the models of `models_dir` (run in a thread at start-up)."""
        from contest.api import Ensemble

        try:
            self.ensemble = Ensemble.load(self.models_dir)
        except ContestError as exc:
            self.load_error = str(exc)

    def ready(self):
        if self.ensemble is None:
            problem = self.load_error or "models are still loading"
            raise RequestProblem(503, f"not ready: {problem}")
        return self.ensemble

    @property
    def body_limit(self):
        spec = self.ensemble.loaded.spec if self.ensemble else MNIST
        return bodies.body_limit(self.max_batch, spec.pixels)

    def predict(self, data, fmt, want_csv, show_images):
        """Response for a request body: JSON answer or submission CSV text."""
        ensemble, pixels = self.pixels(data, fmt, show_images)
        return self.answer(ensemble, pixels, self.member_proba(ensemble, pixels), want_csv,
                           show_images)

    async def predict_small(self, data, fmt, want_csv, show_images):
        """`predict` for a body of at most SMALL_BODY bytes, on the event loop: parsing and
        answering a few images costs less than handing them to a worker thread, and the loop
        waits for the forward pass without holding a thread."""
        ensemble, pixels = self.pixels(data, fmt, show_images)
        unit = to_unit_nchw(pixels, ensemble.loaded.spec)
        members = await asyncio.wrap_future(self.batcher(ensemble).submit(unit))
        return self.answer(ensemble, pixels, members, want_csv, show_images)

    def pixels(self, data, fmt, show_images):
        """(the ensemble, the checked images of the body in contest's layout)."""
        ensemble = self.ready()
        pixels = bodies.parse_body(data, fmt, ensemble.loaded.spec, self.max_batch)
        if show_images and len(pixels) > MAX_SHOWN_IMAGES:
            raise RequestProblem(400, f"images=true shows at most {MAX_SHOWN_IMAGES} images; "
                                      f"this request has {len(pixels)}")
        return ensemble, pixels

    @staticmethod
    def answer(ensemble, pixels, members, want_csv, show_images):
        """The JSON answer, or the submission CSV text, from the (M, N, K) member probabilities."""
        from contest.modeldir.ensemble import average

        mean = average(members)
        if want_csv:
            from contest.data.submission import render_submission

            return render_submission(mean.argmax(axis=1), "csv")
        names = [entry["file"] for entry in ensemble.manifest["members"]]
        shown = bodies.as_uint8_images(pixels) if show_images else None
        return bodies.prediction_json(mean, members, names, shown)

    def member_proba(self, ensemble, pixels):
        """(M, N, K) member probabilities, computed `chunk` images at a time; small concurrent
        requests share forward passes (MicroBatcher). Batches of BULK_IMAGES or more go to a
        batcher of their own (with its own copy of the members), so that single images are
        never queued behind a chunk of a 10,000-image request."""
        bulk = len(pixels) >= BULK_IMAGES
        out = np.empty((len(ensemble), len(pixels), ensemble.classes), dtype=np.float32)
        for start in range(0, len(pixels), self.chunk):
            part = to_unit_nchw(pixels[start:start + self.chunk], ensemble.loaded.spec)
            out[:, start:start + len(part)] = self.batcher(ensemble, bulk).submit(part).result()
        return out

    def batcher(self, ensemble, bulk=False):
        with self._batcher_lock:
            if bulk not in self._batchers:
                from contest.serve.batcher import MemberPool, MicroBatcher

                loaded = ensemble.loaded
                if bulk:   # a network's forward pass keeps per-call state: its own copies
                    import copy

                    loaded = copy.copy(loaded)
                    loaded.models = copy.deepcopy(loaded.models)
                members = MemberPool(loaded, self.threads, self.processes)
                self._batchers[bulk] = MicroBatcher(members, self.chunk)
            return self._batchers[bulk]

    def info(self):
        ensemble = self.ready()
        manifest = ensemble.manifest
        channels, height, width = ensemble.input_shape
        members = [{key: entry.get(key) for key in ("index", "file", "val_acc", "test_acc")}
                   for entry in manifest["members"]]
        return {"input": {"channels": channels, "height": height, "width": width,
                          "classes": ensemble.classes,
                          "class_names": list(ensemble.loaded.spec.class_names)},
                "members": members, "arch": manifest.get("arch"),
                "normalisation": manifest.get("normalisation"),
                "preset": manifest.get("preset"),
                "validation_accuracy": manifest.get("validation_accuracy"),
                "test_accuracy": manifest.get("test_accuracy"),
                "max_batch": self.max_batch}


def create_app(service):
    """The FastAPI app serving `service` (models loaded in a thread at start if not given)."""
    @asynccontextmanager
    async def lifespan(app):
        if service.ensemble is None and service.models_dir is not None:
            threading.Thread(target=service.load, daemon=True).start()
        yield

    # FastAPIOffline: FastAPI whose /docs and /redoc pages load their scripts from the package,
    # not from a CDN, so they work on machines without internet access
    app = FastAPIOffline(title="contest", summary="Digit ensemble predictions", lifespan=lifespan)
    app.add_exception_handler(RequestProblem, _problem_response)
    app.add_exception_handler(HTTPException, _http_error_response)
    app.add_exception_handler(RequestValidationError, _validation_error_response)
    app.add_exception_handler(Exception, _unexpected_error_response)
    app.add_middleware(RequestGuard, hosts=service.hosts, token=service.token)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_routes(app, service)
    app.include_router(inspect_router(service, PREDICT_BODY, _read_body))   # POST /inspect
    return app


async def _problem_response(request, exc):
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


async def _unexpected_error_response(request, exc):
    """A bug or an exhausted resource: one log line, not a traceback per request."""
    LOG.error("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return JSONResponse({"error": f"internal error ({type(exc).__name__})"}, status_code=500)


async def _http_error_response(request, exc):
    """Starlette's own errors (404, 405) in the same {"error": ...} shape as ours."""
    message = f"{exc.detail}: {request.method} {request.url.path}"
    return JSONResponse({"error": message}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _validation_error_response(request, exc):
    problems = "; ".join(f"{' '.join(map(str, error['loc']))}: {error['msg']}"
                         for error in exc.errors())
    return JSONResponse({"error": problems}, status_code=422)


def _add_routes(app, service):
    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/health")
    def health():
        if service.ensemble is None:
            status = "failed" if service.load_error else "loading"
            return JSONResponse({"status": status, "error": service.load_error}, 503)
        return {"status": "ready", "members": len(service.ensemble)}

    @app.get("/info")
    def info():
        return service.info()

    @app.post("/predict", openapi_extra=PREDICT_BODY)
    async def predict(request: Request, images: bool = False):
        """Predict a batch of images; JSON answer, or Kaggle CSV with `Accept: text/csv`."""
        service.ready()
        content_type = request.headers.get("content-type")
        form = bodies.body_format(content_type)   # 415 before reading a body no form reads
        ticket = _admit(service, form, request.headers.get("content-length", ""))
        try:
            answer, want_csv = await _predict(service, request, content_type, images)
        finally:
            _release(service, ticket)
        if want_csv:
            return PlainTextResponse(answer, media_type="text/csv")
        return JSONResponse(answer)  # plain lists: skip FastAPI's slower jsonable_encoder


def _admit(service, form, declared):
    """An admission ticket for a body of `declared` bytes (the size limit when not declared);
    503 with Retry-After when this process is decoding all it may."""
    length = int(declared) if declared.isdigit() else service.body_limit
    ticket = service.admission.admit(form, min(length, service.body_limit))
    if ticket is None:
        raise RequestProblem(503, "busy: this server process is decoding as many large "
                                  "requests as its memory bound allows; retry shortly",
                             {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return ticket


def _release(service, ticket):
    """Release an admission ticket; TRIM_DELAY seconds after the last large request in flight
    (its answer sent and freed by then), give the freed memory back to the system (in a thread:
    the loop goes on meanwhile), then report what the idle process still holds."""
    admission = service.admission
    admission.release(ticket)
    if not ticket:
        return
    loop = asyncio.get_running_loop()

    def trim_if_idle():
        if admission.decodes == 0:
            trimmed = loop.run_in_executor(None, trim_heap)
            trimmed.add_done_callback(lambda _: service.report_idle_memory())
    loop.call_later(TRIM_DELAY, trim_if_idle)


async def _predict(service, request, content_type, images):
    """(the answer, whether it is CSV) for the request's body."""
    data = await _read_body(request, service.body_limit, service.max_batch)
    fmt = bodies.body_format(content_type, data[:8])
    want_csv = "text/csv" in request.headers.get("accept", "")
    if len(data) <= SMALL_BODY and fmt != "picture":
        return await service.predict_small(data, fmt, want_csv, images), want_csv
    # large bodies and pictures would hold up the loop: a worker thread
    return await run_in_threadpool(service.predict, data, fmt, want_csv, images), want_csv


async def _read_body(request, limit, max_batch):
    """The body's bytes, refused (413) as soon as it passes `limit` bytes."""
    too_big = RequestProblem(413, f"body over the size limit of {limit} bytes "
                                  f"(--max-batch {max_batch} images)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
    except ClientDisconnect:
        client = request.client
        LOG.info("%s: client went away after %d bytes of the request body",
                 f"{client.host}:{client.port}" if client else "client", size)
        raise RequestProblem(400, "request body not received in full") from None
    return b"".join(chunks)
