"""The simulator against a running delivrd: every acked report verified stored, exactly once."""

import json
from datetime import datetime

import httpx
import pytest

from delivrd.cli.main import main
from delivrd.simulate.ledger import read
from tests.factories import body, report
from tests.servers import free_port


def simulate(capsys, *args: str) -> tuple[int, str]:
    code = main(["simulate", *args])
    return code, capsys.readouterr().out


def test_a_run_verifies_with_nothing_missing_or_doubled(server, tmp_path, capsys):
    ledger, summary = tmp_path / "run.jsonl", tmp_path / "summary.json"
    code, out = simulate(
        capsys,
        "--url",
        f"{server.url}/sms/callback",
        "--count",
        "2000",
        "--seed",
        "11",
        "--ledger",
        str(ledger),
        "--json",
        str(summary),
        "--retry-delay",
        "0.1",
    )
    assert code == 0, out
    stats = json.loads(summary.read_text())
    assert stats["reports_acked"] == 2000 and stats["pushes_acked"] == 20 and stats["pushes_failed"] == 0
    assert stats["latency_ms"]["p50"] <= stats["latency_ms"]["p99"] <= stats["latency_ms"]["max"]
    assert "acked:" in out and "latency:" in out and "--seed 11" in out
    assert len(read(ledger)) == 2000
    line = json.loads(ledger.read_text().splitlines()[0])
    assert set(line) == {"sid", "mobile", "report_status", "nationcode", "errmsg"}

    code, out = simulate(capsys, "verify", "--ledger", str(ledger), "--url", server.url)
    assert code == 0, out
    assert "2000 found, 0 missing, 0 doubled" in out
    stored = httpx.get(f"{server.url}/v1/reports", params={"limit": 1000}).json()["items"]
    assert {r["nationcode"] for r in stored} > {"86"}  # the mix reached the store as sent


def test_injected_duplicates_malformed_and_oversized_pushes_still_verify(server, tmp_path, capsys):
    ledger, summary = tmp_path / "run.jsonl", tmp_path / "summary.json"
    code, out = simulate(
        capsys,
        "--url",
        f"{server.url}/sms/callback",
        "--count",
        "3000",
        "--seed",
        "12",
        "--batch",
        "50",
        "--duplicates",
        "0.3",
        "--malformed",
        "0.2",
        "--oversized",
        "0.1",
        "--oversize",
        "300",
        "--ledger",
        str(ledger),
        "--json",
        str(summary),
        "--retry-delay",
        "0.1",
    )
    assert code == 0, out
    stats = json.loads(summary.read_text())
    assert stats["duplicate_pushes"] > 0 and stats["malformed_pushes"] > 0 and stats["oversized_pushes"] > 0
    assert set(stats["malformed_answers"]) <= {"400"}  # delivrd refuses bodies that are not report arrays
    code, out = simulate(capsys, "verify", "--ledger", str(ledger), "--url", server.url)
    assert code == 0, out
    assert f"{stats['reports_acked']} found, 0 missing, 0 doubled" in out
    # what was injected arrived: repeats counted as duplicates, bad items quarantined beside good ones
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "delivrd_report_duplicates_total 0" not in metrics
    rejects = httpx.get(f"{server.url}/v1/rejects", params={"limit": 1000}).json()["items"]
    reasons = " ".join(r["reason"] for r in rejects)
    assert "missing required field(s): sid" in reasons and "report_status must be SUCCESS or FAIL" in reasons


def test_verify_names_what_is_missing_and_what_is_doubled(server, tmp_path, capsys):
    # Two stored reports match one ledger line: the same sid, mobile and status at two receive times.
    first = report(1, sid="2019:100")
    again = report(1, sid="2019:100", user_receive_time="2026-11-24 10:00:05")
    assert httpx.post(f"{server.url}/sms/callback", content=body([first, again])).json()["result"] == 0
    ledger = tmp_path / "ledger.jsonl"
    lines = [
        {"sid": "2019:100", "mobile": first["mobile"], "report_status": "SUCCESS"},
        {"sid": "2019:404", "mobile": "13900000000", "report_status": "FAIL"},
    ]
    ledger.write_text("".join(json.dumps(line) + "\n" for line in lines))
    for extra in ([], ["--by-sid"]):
        code, out = simulate(capsys, "verify", "--ledger", str(ledger), "--url", server.url, *extra)
        assert code == 1
        assert "1 found, 1 missing, 1 doubled" in out
        assert "missing  sid=2019:404 mobile=13900000000 report_status=FAIL" in out
        assert "doubled  sid=2019:100" in out and "stored 2×" in out


@pytest.mark.backends("sqlite")  # a wrong URL: no store is involved
def test_verify_reports_an_unreachable_or_wrong_read_api(server, tmp_path, capsys):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"sid": "1", "mobile": "2", "report_status": "SUCCESS"}\n')
    code = main(["simulate", "verify", "--ledger", str(ledger), "--url", server.url + "/nothing"])
    assert code == 2 and "answered 404" in capsys.readouterr().err


def test_no_report_says_its_handset_received_it_after_delivrd_did(server, capsys):
    code, out = simulate(capsys, "--url", f"{server.url}/sms/callback", "--count", "5000", "--seed", "13")
    assert code == 0, out
    stored, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{server.url}/v1/reports", params=params).json()
        stored += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    assert len(stored) == 5000
    late = [
        r for r in stored if datetime.fromisoformat(r["user_receive_at"]) > datetime.fromisoformat(r["received_at"])
    ]
    assert late == []


def test_a_start_in_the_future_is_refused(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["simulate", "--url", "http://127.0.0.1:9/sms/callback", "--start", "2999-01-01T00:00:00"])
    assert exit.value.code == 2 and "is in the future" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["", "check", "verify"])
def test_nothing_listening_is_said_once(command, tmp_path, capsys):
    port = free_port()
    url = f"http://127.0.0.1:{port}/sms/callback"
    ledger = tmp_path / "run.jsonl"
    ledger.write_text('{"sid": "1", "mobile": "2", "report_status": "SUCCESS"}\n')
    given = {"": [], "check": ["check"], "verify": ["verify", "--ledger", str(ledger)]}[command]
    assert main(["simulate", *given, "--url", url]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.splitlines() == [
        f"delivrd simulate{' ' + command if command else ''}: nothing answers at 127.0.0.1:{port}"
        f" (connection refused); is it running at {url}?"
    ]


@pytest.mark.backends("sqlite")  # a wrong URL: no store is involved
def test_verify_given_the_callback_url_says_to_give_the_base_url(server, tmp_path, capsys):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"sid": "1", "mobile": "2", "report_status": "SUCCESS"}\n')
    code = main(["simulate", "verify", "--ledger", str(ledger), "--url", f"{server.url}/sms/callback"])
    err = capsys.readouterr().err
    assert code == 2 and "answered 404" in err
    assert err.rstrip().endswith(f"(--url is the read API's base URL, without a path: {server.url})")


@pytest.mark.backends("sqlite")  # a wrong URL: no store is involved
@pytest.mark.parametrize("command", [[], ["check"]])
def test_pushing_to_the_base_url_says_to_give_the_callback_url(server, command, capsys):
    args = ["--count", "10", "--retry-delay", "0.01"] if not command else []
    assert main(["simulate", *command, "--url", server.url, *args]) == 1
    err = capsys.readouterr().err
    assert f"is {server.url} the callback URL? delivrd's is {server.url}/sms/callback" in err


def test_run_needs_a_url(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["simulate", "--count", "5"])
    assert exit.value.code == 2 and "--url is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["simulate", "--url", "localhost:8080/sms/callback"])
    assert exit.value.code == 2 and "not an http:// or https:// URL" in capsys.readouterr().err


def test_the_same_seed_and_start_replay_the_same_reports_as_retries(server, tmp_path, capsys):
    args = ["--url", f"{server.url}/sms/callback", "--count", "300", "--seed", "5", "--start", "2026-11-24T10:00:00"]
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert simulate(capsys, *args, "--ledger", str(first))[0] == 0
    assert simulate(capsys, *args, "--ledger", str(second))[0] == 0
    assert sorted(first.read_text().splitlines()) == sorted(second.read_text().splitlines())  # acks come in any order
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "delivrd_reports_total 300" in metrics and "delivrd_report_duplicates_total 300" in metrics
    code, out = simulate(capsys, "verify", "--ledger", str(second), "--url", server.url)
    assert code == 0 and "300 found, 0 missing, 0 doubled" in out


@pytest.mark.backends("sqlite")  # the key is the subject, not storage
def test_verify_sends_the_api_key(start_server, tmp_path, capsys):
    server = start_server("--api-key", "k3y")
    ledger = tmp_path / "run.jsonl"
    code, out = simulate(capsys, "--url", f"{server.url}/sms/callback", "--count", "150", "--ledger", str(ledger))
    assert code == 0, out
    assert main(["simulate", "verify", "--ledger", str(ledger), "--url", server.url]) == 2
    assert "answered 401" in capsys.readouterr().err
    code, out = simulate(capsys, "verify", "--ledger", str(ledger), "--url", server.url, "--api-key", "k3y")
    assert code == 0 and "150 found, 0 missing, 0 doubled" in out
