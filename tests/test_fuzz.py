"""Mutated and arbitrary bodies at the callback routes: the promises hold for every one.

`test_fuzz_harness` is a short run of `python -m bench.fuzz` (the standing fuzz harness):
valid Tencent pushes mutated byte by byte and field by field, sent concurrently; then
every body must be in the inbox as sent, every answer documented, every valid push and
every valid item beside a bad one acked and stored, and everything stored readable
through the read API and `delivrd export`. The hypothesis test adds arbitrary JSON
shapes the mutator does not make, checked by the same functions.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz, fuzz_gen
from tests.databases import BACKENDS, Backend, require_postgres
from tests.servers import InProcessApp

SEED = 20261124
REQUESTS = 3000


def _verdict(summary: dict) -> str:
    """The failures of a run, readable in a pytest report."""
    lines = [f"failed checks: {summary['failed_checks']}", f"answers: {summary['answers']}"]
    for check, kinds in summary["failures"].items():
        for kind, n in kinds.items():
            example = summary["examples"].get(f"{check}|{kind}", [{}])[0]
            lines.append(f"{check}: {kind} x{n}\n    e.g. {json.dumps(example, ensure_ascii=False)[:600]}")
    return "\n".join(lines)


def test_fuzz_harness(backend, tmp_path):
    """3,000 mutated pushes over 16 connections, then every check of bench.fuzz."""
    db = tmp_path / "fuzz.db"
    options = fuzz.Options(
        backend=backend.name,
        db=db,
        database_url=backend.database_url(db),
        requests=REQUESTS,
        seed=SEED,
        concurrency=16,
        max_body_bytes="256k",
        check_every=1000,
        sample=300,
        quiet=True,
        json_path=tmp_path / "fuzz.json",
    )
    summary = fuzz.run(options)
    assert summary["requests"] == REQUESTS
    assert summary["ok"], _verdict(summary)
    # the run did exercise what it checks
    kinds = summary["answers_by_kind"]
    assert {"valid", "repeat", "neighbour", "structural", "bytes"} <= set(kinds)
    assert summary["store"]["valid_items_expected"] > 0
    assert summary["inbox_rows"] == REQUESTS
    assert summary["requests_per_second"] > 0 and summary["harness_cpu_ms_per_request"] > 0


def test_the_same_seed_sends_the_same_requests():
    a = [fuzz_gen.plan(7, i, 4096) for i in range(300)]
    b = [fuzz_gen.plan(7, i, 4096) for i in range(300)]
    assert [(r.path, r.kind, r.body) for r in a] == [(r.path, r.kind, r.body) for r in b]
    assert len({r.kind for r in a}) == 5


def test_valid_items_fast_json_is_the_generic_json():
    """Valid items are written by a fast path; it writes what the general writer would."""
    for i in range(200):
        for item in (fuzz_gen.valid_report(5, i, i % 7), fuzz_gen.valid_reply(5, i, i % 3)):
            for ascii_only in (False, True):
                assert fuzz_gen.dump(item, ascii_only) == fuzz_gen.dump(dict(item), ascii_only)
                assert json.loads(fuzz_gen.dump(item, ascii_only)) == item


def test_valid_pushes_are_sized_like_tencents():
    """Mostly one or a few items, up to 100; rarely none or more (up to 500)."""
    sizes = [r.items for r in (fuzz_gen.plan(3, i, 1 << 20) for i in range(4000)) if r.kind == "valid"]
    assert max(sizes) <= 500 and min(sizes) >= 0
    assert sum(n <= 10 for n in sizes) / len(sizes) > 0.8
    assert sum(sizes) / len(sizes) < 12


def test_valid_and_neighbour_pushes_are_grammatical_json():
    """The harness only demands acks for bodies that are JSON by RFC 8259's grammar (numbers of any size)."""
    for i in range(2000):
        req = fuzz_gen.plan(11, i, 1 << 20)
        if req.expects_items:
            items = json.loads(req.body, parse_int=lambda s: 0, parse_float=lambda s: 0.0)
            assert isinstance(items, (list, dict)), req.how


# -- arbitrary JSON (hypothesis), checked with the harness's own checks ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=6),
    max_leaves=30,
)
report_like = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans(), json_values)
        for name in (
            "sid",
            "mobile",
            "nationcode",
            "report_status",
            "errmsg",
            "description",
            "user_receive_time",
            "ext",
            "extend",
            "sign",
            "text",
            "time",
        )
    },
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
MAX_BODY = 1500


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_app(request, tmp_path_factory):
    """One delivrd in process per backend for the module: the examples add up, and the last test reads them all."""
    if request.param not in (request.config.getoption("backend") or BACKENDS):
        pytest.skip(f"--backend leaves out {request.param}")
    if request.param == "postgresql":
        require_postgres()
    backend = Backend(request.param)
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    app = InProcessApp(db, backend.database_url(db), max_body_bytes=MAX_BODY)
    run = fuzz.Run(seed=0, limit=MAX_BODY, table=fuzz.documented_results())
    yield app, run
    app.close()
    backend.drop()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=bodies, path=st.sampled_from([fuzz_gen.CALLBACK, fuzz_gen.REPLY]))
def test_any_body_gets_a_documented_answer(fuzz_app, content, path):
    """An exception in the app would fail the request itself: in process, nothing stands in for a crashed server."""
    app, run = fuzz_app
    run.record_sent(path, content)
    request = fuzz_gen.Request(run.sent, path, "hypothesis", "hypothesis", content, run.sent)
    answer = app.client.post(path, content=content)
    run.answered += 1
    assert fuzz.check_answer(run, request, answer.status_code, answer.headers, answer.content) is not None, run.examples
    assert not run.failures, dict(run.examples)


def test_everything_fuzzed_is_kept_and_readable(fuzz_app):
    """After the hypothesis examples: each body in the inbox, the store readable end to end."""
    app, run = fuzz_app
    assert run.sent >= 600
    assert app.client.get("/healthz").json() == {"status": "ok"}

    async def check() -> None:
        async with app.async_client() as c:
            await fuzz.check_inbox(c, run, fuzz.Options(), before_id=0)
            await fuzz.check_store(c, run, fuzz.Options(sample=300), server=None)

    app.run(check)
    fuzz.check_exports(run, app.database_args(), None)
    assert not run.failures, {check: dict(kinds) for check, kinds in run.failures.items()}
