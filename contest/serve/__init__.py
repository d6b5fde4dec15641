"""`contest serve`: a local HTTP service (FastAPI on uvicorn) and a page to draw a digit.

Optional: install with `pip install "contest-cnn[serve]"`. `contest.serve.app` holds the app,
`contest.serve.bodies` the request and response formats, `contest.serve.run` the launcher.
"""
