"""contest serve's HTTP app through FastAPI's test client: every endpoint, every bad request."""
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the 'serve' extra (fastapi) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from contest import Ensemble  # noqa: E402
from contest.serve.app import Service, create_app  # noqa: E402
from contest.data.submission import render_submission  # noqa: E402
from contest_testutil import invoke  # noqa: E402

NPY = {"Content-Type": "application/x-npy"}
HEADER = ",".join(f"pixel{i}" for i in range(784))
MAX_BATCH = 50


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_with_header(descr, shape, payload=b""):
    """.npy bytes with a hand-written header (shapes and dtypes np.save never writes)."""
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


def png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def csv_text(digits):
    rows = (",".join(map(str, d.ravel())) for d in digits)
    return HEADER + "\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def ensemble(models):
    return Ensemble.load(models)


@pytest.fixture(scope="module")
def client(ensemble):
    with TestClient(create_app(Service(ensemble, max_batch=MAX_BATCH))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def digits(tiny_test):
    return tiny_test[0][:12]


def good_request_answered(client, digits):
    response = client.post("/predict", content=npy_bytes(digits[:2]), headers=NPY)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == 2


def test_health_and_info(client, ensemble, models):
    assert client.get("/health").json() == {"status": "ready", "members": len(ensemble)}
    info = client.get("/info").json()
    assert info["input"] == {"channels": 1, "height": 28, "width": 28, "classes": 10,
                             "class_names": [str(d) for d in range(10)]}
    manifest = json.loads((models / "ensemble.json").read_text())
    assert [m["file"] for m in info["members"]] == [m["file"] for m in manifest["members"]]
    assert [m["val_acc"] for m in info["members"]] == [m["val_acc"] for m in manifest["members"]]
    assert info["preset"]["name"] == manifest["preset"]["name"]
    assert info["max_batch"] == MAX_BATCH


def test_info_gives_the_class_names_of_the_ensembles_spec(ensemble):
    from contest.data.spec import FASHION_MNIST_NAMES, MNIST
    from contest.modeldir.ensemble import LoadedEnsemble

    loaded = ensemble.loaded
    named = MNIST.with_class_names(FASHION_MNIST_NAMES)
    manifest = dict(loaded.manifest, input=named.to_dict())
    service = Service(Ensemble(LoadedEnsemble(loaded.directory, manifest, loaded.models)))
    with TestClient(create_app(service)) as named_client:
        info = named_client.get("/info").json()
    assert info["input"]["class_names"] == list(FASHION_MNIST_NAMES)
    assert info["input"]["class_names"][9] == "Ankle boot"


def test_health_is_not_ready_until_loaded(models, tmp_path):
    service = Service(models_dir=models)
    client = TestClient(create_app(service))
    loading = client.get("/health")
    assert loading.status_code == 503 and loading.json()["status"] == "loading"
    refused = client.post("/predict", content=b"[]", headers={"Content-Type": "application/json"})
    assert refused.status_code == 503 and "still loading" in refused.json()["error"]
    with client:                             # start-up: the models load in a thread
        for _ in range(200):
            if client.get("/health").status_code == 200:
                break
            time.sleep(0.05)
        assert client.get("/health").json()["status"] == "ready"


def test_health_reports_a_model_directory_that_fails_to_load(tmp_path):
    with TestClient(create_app(Service(models_dir=tmp_path / "nothing"))) as client:
        for _ in range(100):
            if client.get("/health").json()["status"] != "loading":
                break
            time.sleep(0.05)
        answer = client.get("/health")
    assert answer.status_code == 503 and answer.json()["status"] == "failed"
    assert "model directory not found" in answer.json()["error"]


def body_in(fmt, digits):
    if fmt == "npy":
        return {"content": npy_bytes(digits), "headers": NPY}
    if fmt == "csv":
        return {"content": csv_text(digits), "headers": {"Content-Type": "text/csv"}}
    if fmt == "json-list":
        return {"json": digits.tolist()}
    return {"json": {"images": (digits / 255.0).tolist()}}


@pytest.mark.parametrize("fmt", ["npy", "csv", "json-list", "json-object"])
def test_predict_every_body_format_matches_the_python_api(client, ensemble, digits, fmt):
    answer = client.post("/predict", **body_in(fmt, digits))
    assert answer.status_code == 200, answer.text
    answer = answer.json()
    members = ensemble.member_proba(digits)
    assert answer["labels"] == ensemble.predict(digits).tolist()
    np.testing.assert_allclose(answer["probabilities"], members.mean(axis=0), atol=2e-6)
    votes = members.argmax(axis=2)
    assert [m["labels"] for m in answer["members"]] == votes.tolist()
    assert answer["disagree"] == (votes != votes[0]).any(axis=0).tolist()


def test_a_csv_with_a_byte_order_mark_and_an_id_column_is_read_as_the_cli_reads_it(client,
                                                                                  ensemble,
                                                                                  digits):
    rows = [f"{k + 1}," + ",".join(map(str, d.ravel())) for k, d in enumerate(digits)]
    body = "\ufeffImageId," + HEADER + "\r\n" + "\r\n".join(rows) + "\r\n"
    answer = client.post("/predict", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["labels"] == ensemble.predict(digits).tolist()


def test_predict_png_of_any_size_and_shows_the_preprocessed_image(client, ensemble):
    paper = np.full((280, 200), 255, dtype=np.uint8)
    paper[40:240, 90:115] = 0
    answer = client.post("/predict?images=true", content=png_bytes(paper),
                         headers={"Content-Type": "image/png"})
    assert answer.status_code == 200, answer.text
    seen = np.array(answer.json()["images"], dtype=np.uint8)
    assert seen.shape == (1, 28, 28) and seen[0, 0].max() == 0 and seen.max() > 200
    assert answer.json()["labels"] == ensemble.predict(seen).tolist()
    assert len(answer.json()["members"]) == len(ensemble)


def test_accept_text_csv_answers_a_kaggle_submission(client, ensemble, digits):
    answer = client.post("/predict", content=npy_bytes(digits),
                         headers={**NPY, "Accept": "text/csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text == render_submission(ensemble.predict(digits), "csv")


def test_large_batches_go_in_chunks_with_the_same_answer(ensemble, digits):
    whole = TestClient(create_app(Service(ensemble)))
    chunked = TestClient(create_app(Service(ensemble, chunk=5)))
    body = body_in("npy", digits)
    whole, chunked = whole.post("/predict", **body).json(), chunked.post("/predict", **body).json()
    assert chunked["labels"] == whole["labels"] and chunked["count"] == 12
    np.testing.assert_allclose(chunked["probabilities"], whole["probabilities"], atol=1e-5)


BAD_REQUESTS = {
    "wrong-shape": (400, {"content": npy_bytes(np.zeros((2, 27, 28), np.uint8)), "headers": NPY},
                    "wrong dimensions (2, 27, 28)"),
    "bad-dtype": (400, {"content": npy_bytes(np.zeros((2, 28, 28), bool)), "headers": NPY},
                  "non-numeric dtype bool"),
    "strings-json": (400, {"json": [["a"] * 784]}, "non-numeric dtype"),
    "nan": (400, {"content": "[" + ",".join(["NaN"] * 784) + "]",
                  "headers": {"Content-Type": "application/json"}}, "784 NaN"),
    "float-0-255": (400, {"json": np.full((1, 784), 255.0).tolist()},
                    "floats on the 0..255 scale are refused"),
    "int-over-255": (400, {"json": np.full((1, 784), 256).tolist()}, "must lie in 0..255"),
    "empty-body": (400, {"content": b"", "headers": NPY}, "empty body"),
    "no-images": (400, {"json": []}, "empty: no images"),
    "unknown-format": (415, {"content": b"hello", "headers": {"Content-Type": "text/plain"}},
                       "unknown body format: Content-Type 'text/plain'"),
    "no-content-type": (415, {"content": b"hello"}, "unknown body format"),
    "over-size-limit": (413, {"content": b"0" * (50 * 784 * 16 + 70000),
                              "headers": {"Content-Type": "text/csv"}}, "body over the size limit"),
    "over-max-batch": (413, {"content": npy_bytes(np.zeros((51, 28, 28), np.uint8)),
                             "headers": NPY}, "51 images, over the limit of 50"),
    "pickle": (400, {"content": npy_bytes(np.array([{}], dtype=object), True), "headers": NPY},
               "object (pickled) array refused"),
    "not-npy": (400, {"content": b"garbage", "headers": NPY}, "not a valid .npy"),
    "corrupt-png": (400, {"content": b"\x89PNG\r\n\x1a\nbroken",
                          "headers": {"Content-Type": "image/png"}}, "not a readable picture"),
    "blank-png": (400, {"content": png_bytes(np.full((60, 60), 255, np.uint8)),
                        "headers": {"Content-Type": "image/png"}}, "blank image"),
    "csv-header": (400, {"content": "a,b\n1,2\n", "headers": {"Content-Type": "text/csv"}},
                   "Kaggle CSV header"),
    "bad-json": (400, {"content": b"[1, 2", "headers": {"Content-Type": "application/json"}},
                 "not valid JSON"),
    "negative-shape-npy": (400, {"content": npy_with_header("'<u1'", "(-1, 784)", bytes(784)),
                                 "headers": NPY}, "bad array header: shape (-1, 784)"),
    "huge-shape-npy": (413, {"content": npy_with_header("'<u1'", "(4294967296, 4294967296, 784)"),
                             "headers": NPY}, "refused: the limit is"),
    "void-npy": (400, {"content": npy_with_header("'|V0'", "(1, 784)"), "headers": NPY},
                 "non-numeric dtype"),
    "subarray-npy": (400, {"content": npy_with_header("('|u1', (784,))", "(1,)", bytes(784)),
                           "headers": NPY}, "non-numeric dtype"),
    "deep-json": (400, {"content": b"[" * 3000 + b"]" * 3000,
                        "headers": {"Content-Type": "application/json"}}, "nested 3000 deep"),
    "ragged-json": (400, {"json": [[0] * 784, [0] * 10]}, "ragged or malformed JSON lists"),
}


@pytest.mark.parametrize("kind", sorted(BAD_REQUESTS))
def test_bad_request_gets_a_json_error_and_the_server_keeps_serving(client, digits, kind,
                                                                    tmp_path, monkeypatch):
    status, request, problem = BAD_REQUESTS[kind]
    monkeypatch.chdir(tmp_path)
    response = client.post("/predict", **request)
    assert response.status_code == status, response.text
    assert problem in response.json()["error"]
    assert list(tmp_path.iterdir()) == []          # nothing written from a request
    good_request_answered(client, digits)


@pytest.mark.parametrize("method, path, status, problem", [
    ("GET", "/predict", 405, "Method Not Allowed: GET /predict"),
    ("GET", "/nowhere", 404, "Not Found: GET /nowhere"),
    ("POST", "/predict?images=maybe", 422, "query images: Input should be a valid boolean"),
])
def test_wrong_method_path_or_query_get_the_same_json_errors(client, digits, method, path,
                                                             status, problem):
    response = client.request(method, path, content=npy_bytes(digits[:1]), headers=NPY)
    assert response.status_code == status
    assert problem in response.json()["error"]
    good_request_answered(client, digits)


def test_too_many_images_to_show_is_refused(ensemble):
    client = TestClient(create_app(Service(ensemble, max_batch=100)))
    response = client.post("/predict?images=true", content=npy_bytes(np.zeros((65, 28, 28),
                                                                              np.uint8)),
                           headers=NPY)
    assert response.status_code == 400
    assert "images=true shows at most 64 images; this request has 65" in response.json()["error"]


def test_page_docs_and_openapi_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="pad"' in page.text
    assert client.get("/static/app.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()   # works offline
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) >= {"/predict", "/health", "/info"}
    assert "image/png" in schema["paths"]["/predict"]["post"]["requestBody"]["content"]


def test_serve_refuses_a_bad_model_directory_before_opening_a_port(tmp_path):
    result = invoke(["serve", "--models", tmp_path / "missing", "--port", "1"])
    assert result.exit_code == 2 and "model directory not found" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_port_in_use(models):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(["serve", "--models", models, "--port", port])
    assert result.exit_code == 2 and f"--port {port}: cannot listen there" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_serve_starts_one_process_per_core_unless_told(models, monkeypatch):
    import uvicorn

    from contest.serve import balancer
    from contest.serve.run import ServeSettings, run_server

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(("uvicorn", 1)))
    monkeypatch.setattr(balancer, "serve_balanced",
                        lambda host, port, workers, serve, idle_growth: started.append(
                            ("shared", workers, idle_growth)))
    monkeypatch.setattr("nnlib.runtime.threads.available_cores", lambda: 3)
    run_server(models, ServeSettings(port=0))
    assert started[-1] == ("shared", 3, 0.1)   # --idle-memory-growth 10 (%) by default
    run_server(models, ServeSettings(port=0, workers=1))   # one process: the app itself
    assert started[-1] == ("uvicorn", 1)


def test_a_process_idle_after_a_large_request_reports_its_resident_memory(ensemble, tiny_test):
    """After a large request (one that took an admission ticket) the process trims its heap and,
    idle, reports its resident memory: what `contest serve`'s parent compares (balancer)."""
    reports = []
    service = Service(ensemble, max_batch=200, idle_memory_report=reports.append)
    with TestClient(create_app(service)) as client:
        small = client.post("/predict", content=npy_bytes(tiny_test[0][:1]), headers=NPY)
        time.sleep(1.5)
        assert small.status_code == 200 and reports == []   # a small request is not reported
        large = np.repeat(tiny_test[0], 200 // len(tiny_test[0]) + 1, axis=0)[:200]
        assert len(npy_bytes(large)) > 1 << 16
        assert client.post("/predict", content=npy_bytes(large), headers=NPY).status_code == 200
        deadline = time.monotonic() + 10
        while not reports and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(reports) == 1
    statm = int(open("/proc/self/statm").read().split()[1]) * 4096
    assert 0.5 * statm < reports[0] < 2 * statm   # this process's RSS, in bytes
