"""`contest serve`: a local HTTP service (FastAPI on uvicorn) and a page to draw a digit.

Optional: install with `pip install "contest-cnn[serve]"`.

    options    the command's options (click only)      run      the launcher
    app        the FastAPI app and its routes           bodies   request and response formats
    batcher    micro-batching of small requests         guard    Host and token checks, admission
    protocol   uvicorn's HTTP protocol with limits      memory   giving freed memory back
    balancer, worker   several server processes: one accepts, forked workers serve
"""
