"""The same images through `contest predict`, `contest.Ensemble.predict` and `POST /predict`, in
every input form the decoder reads, give the same labels and the same probabilities."""
import io
import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the 'serve' extra (fastapi) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from contest import Ensemble  # noqa: E402
from contest.serve.app import Service, create_app  # noqa: E402
from contest_testutil import invoke, write_idx  # noqa: E402

COUNT = 6


def _npy(digits, scale):
    buffer = io.BytesIO()
    np.save(buffer, digits if scale == "int" else (digits / 255).astype(np.float32))
    return buffer.getvalue()


def _npz(digits):
    buffer = io.BytesIO()
    np.savez(buffer, x=digits)
    return buffer.getvalue()


def _csv(digits, scale, extra=""):
    pixels = digits.reshape(len(digits), -1)
    cells = pixels if scale == "int" else pixels / 255
    buffer = io.StringIO()
    header = ",".join(f"pixel{i}" for i in range(pixels.shape[1]))
    if extra:
        cells = np.column_stack([np.arange(1, len(pixels) + 1), cells])
        header = "ImageId," + header
    np.savetxt(buffer, cells, fmt="%d" if scale == "int" else "%.18e", delimiter=",",
               header=header, comments="")
    return ("\ufeff" if extra else "").encode() + buffer.getvalue().encode()


def _idx(digits, tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", digits)
    return (tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes()


def _png(digit):
    buffer = io.BytesIO()
    Image.fromarray(digit).save(buffer, format="PNG")
    return buffer.getvalue()


FORMS = {   # name -> (file name, Content-Type, bytes of the input)
    "npy-uint8": ("x.npy", "application/x-npy", lambda d, t: _npy(d, "int")),
    "npy-float": ("x.npy", "application/octet-stream", lambda d, t: _npy(d, "float")),
    "npz": ("x.npz", "application/x-npz", lambda d, t: _npz(d)),
    "idx-gz": ("t10k-images-idx3-ubyte.gz", "application/x-idx", _idx),
    "csv-int": ("x.csv", "text/csv", lambda d, t: _csv(d, "int")),
    "csv-float-bom-id": ("x.csv", "text/csv", lambda d, t: _csv(d, "float", "id")),
    "json-int": ("x.json", "application/json", lambda d, t: json.dumps(d.tolist()).encode()),
    "json-float": ("x.json", "application/json",
                   lambda d, t: json.dumps({"images": (d / 255).tolist()}).encode()),
    "png": ("x.png", "image/png", lambda d, t: _png(d[0])),
}


@pytest.fixture(scope="module")
def ensemble(models):
    return Ensemble.load(models)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_cli_api_and_service_give_identical_answers(form, ensemble, models, tiny_test, tmp_path):
    name, media, write = FORMS[form]
    digits = tiny_test[0][:1 if form == "png" else COUNT]
    data = write(digits, tmp_path)
    path = tmp_path / "in" / name
    path.parent.mkdir()
    path.write_bytes(data)
    out, proba = tmp_path / "s.txt", tmp_path / "p.npy"
    result = invoke(["predict", path, "--models", models, "-o", out, "--proba", proba])
    assert result.exit_code == 0, result.output
    cli_labels, cli_proba = np.array(out.read_text().split(), dtype=np.int64), np.load(proba)
    api_proba = ensemble.predict_proba(path)
    client = TestClient(create_app(Service(ensemble)))
    answer = client.post("/predict", content=data, headers={"Content-Type": media})
    assert answer.status_code == 200, answer.text
    np.testing.assert_array_equal(cli_labels, ensemble.predict(path))
    np.testing.assert_array_equal(cli_labels, answer.json()["labels"])
    np.testing.assert_array_equal(cli_proba, api_proba)
    np.testing.assert_allclose(answer.json()["probabilities"], api_proba, atol=5e-7)
    if form != "png":   # every form holds the same images: the same answer as the plain array
        np.testing.assert_array_equal(api_proba, ensemble.predict_proba(digits))
