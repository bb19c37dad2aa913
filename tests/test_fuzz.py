"""Arbitrary bytes and arbitrary JSON at the callback routes: always a JSON answer, never a crash."""

import json

import httpx
import pytest
from conftest import BACKENDS, Backend, ServerProcess, require_postgres
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DOCUMENTED = {200, 400, 413, 503}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=30,
)
report_like = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans(), json_values)
        for name in ("sid", "mobile", "nationcode", "report_status", "errmsg", "description",
                     "user_receive_time", "ext", "extend", "sign", "text", "time")
    },  # fmt: skip
)
report_like = report_like | st.fixed_dictionaries(
    {"sid": st.text(min_size=1), "mobile": st.text(min_size=1), "report_status": st.sampled_from(["SUCCESS", "FAIL"])},
    optional={"user_receive_time": st.text(), "nationcode": st.text() | st.integers(), "extra": json_values},
)
bodies = st.one_of(
    st.binary(max_size=2000),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(report_like, max_size=20).map(lambda v: json.dumps(v).encode()),
    report_like.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
)


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_server(request, tmp_path_factory):
    if request.param not in (request.config.getoption("backend") or BACKENDS):
        pytest.skip(f"--backend leaves out {request.param}")
    if request.param == "postgresql":
        require_postgres()
    backend = Backend(request.param)
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    server = ServerProcess(db, "--max-body-bytes", "1500", database_url=backend.database_url(db)).start()
    sent = {"requests": 0}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield server, client, sent
    server.kill()
    backend.drop()


def check_answer(answer: httpx.Response) -> None:
    assert answer.status_code in DOCUMENTED, (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert type(data["result"]) is int and isinstance(data["errmsg"], str)
    assert (data["result"] == 0) == (answer.status_code == 200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=bodies, path=st.sampled_from(["/sms/callback", "/sms/reply"]))
def test_any_body_gets_a_json_answer(fuzz_server, content, path):
    server, client, sent = fuzz_server
    sent["requests"] += 1
    check_answer(client.post(path, content=content))
    assert server.alive()


def test_server_still_healthy_after_fuzzing(fuzz_server):
    server, client, sent = fuzz_server
    assert server.alive()
    assert client.get("/healthz").json() == {"status": "ok"}
    # every body that was answered is in the inbox, valid or not
    metrics = dict(line.split() for line in client.get("/metrics").text.splitlines() if not line.startswith("#"))
    assert sent["requests"] >= 300
    assert int(metrics["delivrd_inbox_total"]) == sent["requests"]
