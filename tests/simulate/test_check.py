"""`delivrd simulate check`: delivrd passes every case; a receiver that answers plain text fails them."""

import pytest

from delivrd.cli.main import main

from .conftest import ack, plain_text, status

CASES = (
    "seed sample",
    "full batch",
    "duplicate",
    "lone object",
    "unknown code",
    "extra fields",
    "not JSON",
    "empty array",
)


def test_delivrd_passes_every_case(server, capsys):
    code = main(["simulate", "check", "--url", f"{server.url}/sms/callback"])
    out = capsys.readouterr().out
    assert code == 0, out
    for case in CASES:
        assert any(line.startswith(f"PASS  {case}") for line in out.splitlines()), (case, out)
    assert "8 cases: 8 passed, 0 failed" in out


@pytest.mark.backends("sqlite")  # the token is the subject, not storage
def test_a_token_in_the_url_is_sent_as_given(start_server, capsys):
    server = start_server("--callback-token", "s3cret")
    assert main(["simulate", "check", "--url", f"{server.url}/sms/callback"]) == 1
    assert "HTTP 401" in capsys.readouterr().out
    assert main(["simulate", "check", "--url", f"{server.url}/sms/callback?token=s3cret"]) == 0


def test_a_plain_text_receiver_fails_with_reasons(scripted_receiver, capsys):
    receiver = scripted_receiver([plain_text])
    code = main(["simulate", "check", "--url", receiver.url])
    out = capsys.readouterr().out
    assert code == 1
    assert "8 cases: 0 passed, 8 failed" in out
    assert out.count("answer is not JSON") == 8
    assert len(receiver.bodies) == 8


def test_a_receiver_that_crashes_on_bad_input_fails_that_case(scripted_receiver, capsys):
    # acks the six good pushes, then a 500 for the cut-off body, then acks the empty array
    receiver = scripted_receiver([ack] * 6 + [status(500), ack])
    assert main(["simulate", "check", "--url", receiver.url]) == 1
    out = capsys.readouterr().out
    assert "7 passed, 1 failed" in out
    assert "FAIL  not JSON" in out and "HTTP 500" in out
