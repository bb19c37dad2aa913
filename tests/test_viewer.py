"""`--viewer-key`: a second, read-only key that sees phone numbers masked and no raw bodies, on every read route
(each GET route of the OpenAPI document is called), in `delivrd export --masked`, and never writes. The full
`--api-key` sees everything."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from delivrd.domain.masking import for_viewer, mask_mobile, mask_phone
from tests.test_erasure import NEAR, OTHER, TARGET, feed
from tests.test_safe_defaults import serve, served, served_environ

__all__ = ["served"]  # a fixture, used by name

FULL = {"Authorization": "Bearer full-key"}
VIEWER = {"Authorization": "Bearer viewer-key"}
#: every number fed, and the digits of each that a masked number must not show all of
NUMBERS = (TARGET, OTHER, NEAR)
#: what each path parameter is filled with when every GET route is called
PATH_VALUES = {"sid": "2019:t1", "phone": f"+86{TARGET}", "id": "ep_none"}
#: read routes the viewer may not use: raw bodies, endpoints (they carry secrets), the live stream (not maskable)
REFUSED = {"/v1/inbox", "/v1/endpoints", "/v1/endpoints/ep_none", "/v1/events"}


def full_number_in(text: str) -> list[str]:
    """The fed numbers `text` holds whole: as received, with the country code, or as a JSON number."""
    return [n for n in NUMBERS if re.search(rf"(?<![0-9]){n}(?![0-9])", text)]


@pytest.fixture
def keyed(start_app):
    app = start_app(api_key="full-key", viewer_key="viewer-key")
    app.client.headers.update(FULL)
    feed(app.client)
    del app.client.headers["Authorization"]
    return app


def get_routes(client) -> list[str]:
    spec = client.get("/openapi.json").json()
    return [
        re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        for path, item in spec["paths"].items()
        if "get" in item and path.startswith("/v1/")
    ]


def test_the_viewer_sees_no_full_number_on_any_read_route(keyed):
    client = keyed.client
    routes = get_routes(client)
    assert {"/v1/reports", "/v1/replies", "/v1/rejects", "/v1/phones/+8613800138000", "/v1/stats"} <= set(routes)
    assert set(routes) >= REFUSED
    for path in routes:
        if path in REFUSED:
            refused = client.get(path, headers=VIEWER)
            assert refused.status_code == 403 and refused.json()["result"] == 1014, path
            assert "--viewer-key" in refused.json()["errmsg"], path
            continue
        full = client.get(path, headers=FULL)
        assert full.status_code == 200, (path, full.text)
        seen = client.get(path, headers=VIEWER)
        assert seen.status_code == 200, (path, seen.text)
        assert full_number_in(seen.text) == [], (path, seen.text)
        assert seen.json() == for_viewer(full.json()), path  # the same answer, masked: nothing else differs
    # what the full key sees holds the numbers the viewer's does not
    assert full_number_in(client.get("/v1/reports", headers=FULL).text) == list(NUMBERS)


def test_the_viewer_finds_by_full_number_and_sees_it_masked(keyed):
    client = keyed.client
    timeline = client.get(f"/v1/phones/{TARGET}", headers=VIEWER).json()
    assert (timeline["phone"], timeline["mobile"]) == ("+86 138****8000", "138****8000")
    assert [m["sid"] for m in timeline["messages"]][-1] == "2019:t1"
    reports = client.get("/v1/reports", params={"mobile": TARGET}, headers=VIEWER).json()["items"]
    assert {(r["mobile"], r["phone"]) for r in reports} == {("138****8000", "+86 138****8000")}
    replies = client.get("/v1/replies", params={"mobile": OTHER}, headers=VIEWER).json()["items"]
    assert [r["text"] for r in replies] == ["call 139****9000"]  # a number in free text, masked too
    rejects = client.get("/v1/rejects", headers=VIEWER).json()["items"]
    assert rejects and all(r["raw"] is None for r in rejects)
    assert any(r["raw"] for r in client.get("/v1/rejects", headers=FULL).json()["items"])


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/v1/messages"), ("delete", f"/v1/phones/+86{TARGET}"), ("get", "/v1/inbox")],
)
def test_the_viewer_cannot_write_nor_read_raw_bodies(start_http_app, method, path):
    client = start_http_app(api_key="full-key", viewer_key="viewer-key").client
    answer = client.request(method, path, headers=VIEWER, json={"SendStatusSet": []})
    assert answer.status_code == 403 and answer.headers["content-type"] == "application/json"
    assert answer.json()["result"] == 1014
    assert client.request(method, path, headers={"Authorization": "Bearer wrong"}).json()["errmsg"] == (
        "the API key given is not the one configured (--api-key or --viewer-key)"
    )


def test_the_masked_export_shows_no_full_number(keyed):
    for what in ("reports", "messages"):
        for form in ("csv", "jsonl"):
            run = subprocess.run(
                [sys.executable, "-m", "delivrd", "export", what, "--masked", "--format", form, *keyed.database_args()],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            assert "138****8000" in run.stdout and full_number_in(run.stdout) == [], run.stdout
    plain = subprocess.run(
        [sys.executable, "-m", "delivrd", "export", "reports", *keyed.database_args()], capture_output=True, text=True
    )
    assert full_number_in(plain.stdout) == list(NUMBERS)


@pytest.mark.parametrize(
    ("mobile", "masked"),
    [("13800138000", "138****8000"), ("51234567", "51****67"), ("12345", "****5"), ("1234", "****"), ("", "")],
)
def test_mask_mobile(mobile, masked):
    assert mask_mobile(mobile) == masked


def test_mask_phone():
    assert mask_phone("+8613800138000") == "+86 138****8000"
    assert mask_phone("+85251234567") == "+852 51****67"
    assert mask_phone("not e164") == "no****64"


def test_a_viewer_key_needs_an_api_key_and_must_differ(tmp_path):
    def serve(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "delivrd", "serve", "--db", str(tmp_path / "x.db"), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    alone = serve("--viewer-key", "v")
    assert alone.returncode == 2 and "--viewer-key needs --api-key" in alone.stderr
    same = serve("--viewer-key", "k", "--api-key", "k")
    assert same.returncode == 2 and "the same key" in same.stderr
    key_file = tmp_path / "viewer"
    key_file.write_text("v\n")
    both = serve("--viewer-key", "v", "--viewer-key-file", str(key_file), "--api-key", "k")
    assert both.returncode == 2 and "keep one" in both.stderr


def test_the_viewer_key_is_read_from_its_file_and_reaches_the_workers_as_a_variable(tmp_path, served):
    (tmp_path / "viewer").write_text("the-viewer-key\n")
    assert serve(tmp_path, "--api-key", "k", "--viewer-key-file", str(tmp_path / "viewer")) == 0
    assert (served[0].viewer_key, served[0].viewer_key_file) == ("the-viewer-key", None)
    workers = served_environ[0]
    assert workers["DELIVRD_VIEWER_KEY"] == "the-viewer-key" and "DELIVRD_VIEWER_KEY_FILE" not in workers


def test_the_openapi_document_describes_the_viewer_key_and_the_erasure(start_http_app):
    spec = start_http_app(api_key="full-key", viewer_key="viewer-key").client.get("/openapi.json").json()
    described = spec["components"]["securitySchemes"]["apiKey"]["description"]
    assert "--viewer-key" in described and "+86 138****8000" in described and "403" in described
    erase = spec["paths"]["/v1/phones/{phone}"]["delete"]
    assert erase["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Erased"}
    assert "1014" in erase["responses"]["403"]["description"]
    assert "403" in spec["paths"]["/v1/inbox"]["get"]["responses"]
    assert "403" not in spec["paths"]["/v1/reports"]["get"]["responses"]
