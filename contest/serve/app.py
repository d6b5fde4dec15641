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
import json
import os
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

from contest.data.images import DEFAULT_SHAPE
from contest.errors import ContestError
from contest.serve import bodies
from contest.serve.bodies import RequestProblem

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_BATCH = 10000
CHUNK = 1000
SMALL_BODY = 1 << 16   # bytes; smaller bodies (but PNG) are answered on the event loop
MAX_SHOWN_IMAGES = 64
SETTINGS_VARIABLE = "CONTEST_SERVE_SETTINGS"  # settings of worker processes (--workers > 1)
PREDICT_BODY = {"requestBody": {"required": True, "content": {
    "application/x-npy": {"schema": {"type": "string", "format": "binary"}},
    "text/csv": {"schema": {"type": "string"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {"type": "array", "items": {}}}}}}


class Service:
    """The ensemble (once loaded) and the request limits."""

    def __init__(self, ensemble=None, models_dir=None, max_batch=DEFAULT_MAX_BATCH, threads=None,
                 chunk=CHUNK, processes=1):
        self.ensemble, self.models_dir, self.load_error = ensemble, models_dir, None
        self.max_batch, self.threads, self.chunk = max_batch, threads, chunk
        self.processes = processes   # server processes sharing the cores (--workers)
        self._batcher, self._batcher_lock = None, threading.Lock()

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
        shape = self.ensemble.input_shape if self.ensemble else DEFAULT_SHAPE
        return bodies.body_limit(self.max_batch, shape)

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
        members = await asyncio.wrap_future(self.batcher(ensemble).submit(pixels))
        return self.answer(ensemble, pixels, members, want_csv, show_images)

    def pixels(self, data, fmt, show_images):
        """(the ensemble, the checked pixels of the body)."""
        ensemble = self.ready()
        pixels = bodies.check_batch(bodies.parse_body(data, fmt, ensemble.input_shape),
                                    self.max_batch)
        if show_images and len(pixels) > MAX_SHOWN_IMAGES:
            raise RequestProblem(400, f"images=true shows at most {MAX_SHOWN_IMAGES} images; "
                                      f"this request has {len(pixels)}")
        return ensemble, pixels

    @staticmethod
    def answer(ensemble, pixels, members, want_csv, show_images):
        """The JSON answer, or the submission CSV text, from the (M, N, K) member probabilities."""
        mean = np.mean(members, axis=0, dtype=np.float64).astype(np.float32)
        if want_csv:
            from contest.data.submission import render_submission

            return render_submission(mean.argmax(axis=1), "csv")
        names = [entry["file"] for entry in ensemble.manifest["members"]]
        shown = bodies.as_uint8_images(pixels) if show_images else None
        return bodies.prediction_json(mean, members, names, shown)

    def member_proba(self, ensemble, pixels):
        """(M, N, K) member probabilities, computed `chunk` images at a time; small concurrent
        requests share forward passes (MicroBatcher)."""
        out = np.empty((len(ensemble), len(pixels), ensemble.classes), dtype=np.float32)
        for start in range(0, len(pixels), self.chunk):
            part = pixels[start:start + self.chunk]
            out[:, start:start + len(part)] = self.batcher(ensemble).submit(part).result()
        return out

    def batcher(self, ensemble):
        with self._batcher_lock:
            if self._batcher is None:
                from contest.serve.batcher import MemberPool, MicroBatcher

                members = MemberPool(ensemble.loaded, self.threads, self.processes)
                self._batcher = MicroBatcher(members, self.chunk)
            return self._batcher

    def info(self):
        ensemble = self.ready()
        manifest = ensemble.manifest
        channels, height, width = ensemble.input_shape
        members = [{key: entry.get(key) for key in ("index", "file", "val_acc", "test_acc")}
                   for entry in manifest["members"]]
        return {"input": {"channels": channels, "height": height, "width": width,
                          "classes": ensemble.classes,
                          "class_names": [str(c) for c in range(ensemble.classes)]},
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
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_routes(app, service)
    return app


async def _problem_response(request, exc):
    return JSONResponse({"error": exc.message}, status_code=exc.status)


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
        fmt = bodies.body_format(request.headers.get("content-type"))
        data = await _read_body(request, service.body_limit, service.max_batch)
        want_csv = "text/csv" in request.headers.get("accept", "")
        if len(data) <= SMALL_BODY and fmt != "png":
            answer = await service.predict_small(data, fmt, want_csv, images)
        else:   # large bodies and PNG decoding would hold up the loop: a worker thread
            answer = await run_in_threadpool(service.predict, data, fmt, want_csv, images)
        if want_csv:
            return PlainTextResponse(answer, media_type="text/csv")
        return JSONResponse(answer)  # plain lists: skip FastAPI's slower jsonable_encoder


async def _read_body(request, limit, max_batch):
    """The body's bytes, refused (413) as soon as it passes `limit` bytes."""
    too_big = RequestProblem(413, f"body over the size limit of {limit} bytes "
                                  f"(--max-batch {max_batch} images)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def app_from_environment():
    """App factory for uvicorn worker processes: settings from $CONTEST_SERVE_SETTINGS. Each
    worker loads the models before it accepts a connection, so no worker answers 'loading'
    while another is already serving."""
    from contest.api import Ensemble

    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    ensemble = Ensemble.load(settings["models"])
    return create_app(Service(ensemble, max_batch=settings["max_batch"],
                              threads=settings["threads"], processes=settings["workers"]))
