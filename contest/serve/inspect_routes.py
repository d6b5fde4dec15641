"""The page's look-inside view: POST /inspect answers, for one image, every member's saliency map,
one member's feature maps layer by layer and the nearest training images, computed by the same
code as `contest inspect image` (contest.inspect.views and .payload).

The body is read and checked exactly as for POST /predict (the service's own decoder). The
nearest training images need the training images' features: the first look-inside request starts
loading them in a thread (from the cache `contest inspect` keeps, else computed and cached once);
until they are ready the answer says so in "neighbours_status" and "neighbours" is null.
"""
import threading

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from contest.errors import ContestError
from contest.serve.bodies import RequestProblem, body_format

MAX_NEIGHBOURS = 32


class LookInside:
    """The service's look-inside state: the training index (loaded once, in a thread) and a lock
    (one inspection at a time: each takes a few tens of milliseconds)."""

    def __init__(self, service):
        self.service, self.lock, self.start_lock = service, threading.Lock(), threading.Lock()
        self.loaded = None             # (training index, (images, labels)) once ready
        self.status = "not loaded"

    def start_loading(self, loaded):
        with self.start_lock:
            if self.status != "not loaded":
                return
            self.status = "loading the training images' features"
        threading.Thread(target=self._load, args=(loaded,), daemon=True).start()

    def _load(self, loaded):
        from contest.inspect.training import training_neighbours

        try:
            self.loaded = training_neighbours(loaded)
            self.status = "ready"
        except (ContestError, OSError, ValueError) as exc:
            self.status = f"unavailable: {exc}"

    def answer(self, data, fmt, member, neighbours):
        from contest.inspect.payload import image_payload
        from contest.inspect.views import image_view

        ensemble, pixels = self.service.pixels(data, fmt, False)
        loaded = ensemble.loaded
        if len(pixels) != 1:
            raise RequestProblem(400, f"/inspect looks at one image; this request has "
                                      f"{len(pixels)}")
        if not 0 <= member < len(loaded.models):
            raise RequestProblem(400, f"member={member}: the ensemble has members "
                                      f"0..{len(loaded.models) - 1}")
        image = pixels[0]   # contest's layout: (H, W) grey or (H, W, C) colour
        if neighbours:
            self.start_loading(loaded)
        status, ready = self.status, self.loaded   # read once: the loading thread sets both
        index, train = ready if neighbours and ready is not None else (None, None)
        with self.lock:
            view = image_view(loaded, image, index, neighbours, occlusion=False,
                              map_members=[member])
        payload = image_payload(view, image, loaded.spec, train, [member])
        payload["neighbours_status"] = (status if ready is None else "ready") if neighbours \
            else "not asked"
        return payload


def inspect_router(service, body_schema, read_body):
    """The APIRouter of POST /inspect for `service` (contest.serve.app.Service); the request
    body is documented by `body_schema` and read by `read_body`, those of POST /predict."""
    router, looker = APIRouter(), LookInside(service)

    @router.post("/inspect", openapi_extra=body_schema, tags=["look inside"])
    async def inspect(request: Request, member: int = 0, neighbours: int = 8):
        """Look inside the networks for one image (same body formats as /predict): every
        member's probabilities and saliency map (SmoothGrad of its class score), the feature
        maps of `member` layer by layer (the most active channels), and the `neighbours`
        nearest training images in the ensemble's feature space. Pictures are base64 uint8
        arrays {"shape", "data"}."""
        service.ready()
        if not 0 <= neighbours <= MAX_NEIGHBOURS:
            raise RequestProblem(400, f"neighbours={neighbours}: give 0..{MAX_NEIGHBOURS}")
        fmt = body_format(request.headers.get("content-type"))
        data = await read_body(request, service.body_limit, service.max_batch)
        return JSONResponse(await run_in_threadpool(looker.answer, data, fmt, member, neighbours))

    return router
