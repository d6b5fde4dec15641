"""Who may use the service: the Host header checked against the bound address, an optional
bearer token, and a warning when the service is bound beyond loopback."""
import pytest

pytest.importorskip("fastapi", reason="the 'serve' extra (fastapi) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from contest import Ensemble  # noqa: E402
from contest.serve.app import Service, create_app  # noqa: E402
from contest.serve.guard import allowed_hosts  # noqa: E402

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def ensemble(models):
    return Ensemble.load(models)


def test_a_host_header_other_than_the_bound_address_is_refused(ensemble):
    service = Service(ensemble, hosts=allowed_hosts("127.0.0.1", 8000))
    client = TestClient(create_app(service), base_url="http://127.0.0.1:8000")
    assert client.get("/health").status_code == 200
    assert client.get("/health", headers={"Host": "localhost:8000"}).status_code == 200
    refused = client.get("/health", headers={"Host": "attacker.example"})
    assert refused.status_code == 421 and "--allow-host" in refused.json()["error"]
    extra = Service(ensemble, hosts=allowed_hosts("127.0.0.1", 8000, ["digits.lan"]))
    client = TestClient(create_app(extra), base_url="http://digits.lan:8000")
    assert client.get("/health").status_code == 200


def test_with_a_token_every_request_must_carry_it(ensemble):
    client = TestClient(create_app(Service(ensemble, token=TOKEN)))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get("/info", headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in refused.json()["error"]
    assert client.get("/info", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_binding_beyond_loopback_warns_that_there_is_no_authentication(models, monkeypatch,
                                                                        capsys, tmp_path):
    import uvicorn

    from contest.serve.run import ServeSettings, run_server

    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    run_server(models, ServeSettings(host="0.0.0.0", port=0, workers=1))
    assert "there is no authentication" in capsys.readouterr().err
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    run_server(models, ServeSettings(host="0.0.0.0", port=0, workers=1,
                                     token_file=str(token_file)))
    assert "every request must carry the bearer token" in capsys.readouterr().err
    run_server(models, ServeSettings(port=0, workers=1))
    assert capsys.readouterr().err == ""
