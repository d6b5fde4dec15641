"""POST /inspect (the page's look-inside view) through FastAPI's test client."""
import base64
import io
import os
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra (fastapi) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from contest import Ensemble  # noqa: E402
from contest.inspect.analysis import analyse_image  # noqa: E402
from contest.serve.app import Service, create_app  # noqa: E402

NPY = {"Content-Type": "application/x-npy"}


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    before = os.environ.get("CONTEST_CACHE_DIR")
    os.environ["CONTEST_CACHE_DIR"] = str(tmp_path_factory.mktemp("inspect-cache"))
    yield os.environ["CONTEST_CACHE_DIR"]
    if before is None:
        del os.environ["CONTEST_CACHE_DIR"]
    else:
        os.environ["CONTEST_CACHE_DIR"] = before


@pytest.fixture(scope="module")
def ensemble(models):
    return Ensemble.load(models)


@pytest.fixture(scope="module")
def client(ensemble, cache_dir):
    with TestClient(create_app(Service(ensemble, max_batch=20))) as test_client:
        yield test_client


def decoded(picture):
    data = np.frombuffer(base64.b64decode(picture["data"]), dtype=np.uint8)
    return data.reshape(picture["shape"])


def test_inspect_answers_saliency_maps_and_neighbours(client, ensemble, tiny_test):
    digit = tiny_test[0][4]
    for _ in range(200):   # the first request starts loading the training features
        response = client.post("/inspect?member=1", content=npy_bytes(digit), headers=NPY)
        assert response.status_code == 200, response.text
        answer = response.json()
        if answer["neighbours_status"] == "ready":
            break
        time.sleep(0.1)
    assert answer["neighbours_status"] == "ready"
    assert len(answer["members"]) == len(ensemble) and len(answer["neighbours"]) == 8
    same = analyse_image(ensemble.loaded, digit, occlusion=False)   # the command's own code
    for m, member in enumerate(answer["members"]):
        np.testing.assert_array_equal(decoded(member["saliency"]),
                                      np.round(same.saliency[m] * 255).astype(np.uint8))
    assert answer["predicted"] == int(same.proba.argmax())
    maps = answer["feature_maps"]
    assert [m["member"] for m in maps] == [1]
    first = maps[0]["layers"][0]
    assert first["name"] == "0:Conv2D" and decoded(first["maps"]).shape[1:] == (28, 28)
    assert decoded(answer["neighbours"][0]["image"]).shape == (28, 28)


def test_inspect_without_neighbours_and_bad_requests(client, tiny_test):
    one = npy_bytes(tiny_test[0][:1])
    answer = client.post("/inspect?neighbours=0", content=one, headers=NPY).json()
    assert answer["neighbours"] is None and answer["neighbours_status"] == "not asked"
    for query, body, status, words in [
            ("", npy_bytes(tiny_test[0][:2]), 400, "one image"),
            ("?member=9", one, 400, "member=9"),
            ("?neighbours=99", one, 400, "neighbours=99"),
            ("?member=x", one, 422, "member")]:
        response = client.post("/inspect" + query, content=body, headers=NPY)
        assert response.status_code == status and words in response.json()["error"], query
    gif = {"Content-Type": "image/gif"}       # refused as /predict refuses it
    response = client.post("/inspect", content=one, headers=gif)
    assert 400 <= response.status_code < 500
    assert response.json() == client.post("/predict", content=one, headers=gif).json()
    assert client.post("/predict", content=one, headers=NPY).status_code == 200   # still serving


def test_inspect_is_in_the_openapi_schema(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/inspect"]["post"]
    assert "image/png" in operation["requestBody"]["content"]
    assert {p["name"] for p in operation["parameters"]} == {"member", "neighbours"}
