"""`GET /v1/phones/{phone}` and `--default-country`: a number typed without `+` is one of the default country's."""

from __future__ import annotations

import argparse

import pytest

from delivrd.config import Settings
from delivrd.domain import phones
from tests.factories import body, report

ACK = {"result": 0, "errmsg": "OK"}


@pytest.mark.parametrize(
    ("typed", "country", "wanted"),
    [
        ("13800138000", "86", ("86", "13800138000")),  # what a Chinese user types
        ("8613800138000", "86", ("86", "13800138000")),  # the country code in front, no '+'
        ("008613800138000", "86", ("86", "13800138000")),  # the international prefix
        ("07700900123", "44", ("44", "7700900123")),  # the trunk prefix dropped, as the UK writes it
        ("0044 7700 900123".replace(" ", ""), "86", ("44", "7700900123")),  # another country through '00'
        ("+8613800138000", "44", ("86", "13800138000")),  # with '+': taken as is
        ("+14155550100", "86", ("1", "4155550100")),
        (" 13800138000 ", "86", ("86", "13800138000")),
        ("12345678", "800", ("800", "12345678")),  # a calling code of no region: its digits put in front
    ],
)
def test_read_takes_digits_alone_as_a_number_of_the_default_country(typed, country, wanted):
    assert phones.read(typed, country) == wanted


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("abc", "got 'abc'"),
        ("+abc", "got '+abc'"),
        ("138-0013-8000", "got '138-0013-8000'"),
        ("", "got ''"),
        ("1", "got '1'"),
        ("+99912", "known country calling code"),
    ],
)
def test_read_refuses_what_is_not_a_number_naming_what_was_given(typed, fragment):
    with pytest.raises(ValueError, match=fragment.replace("+", r"\+")):
        phones.read(typed, "86")


def test_calling_code_setting():
    assert Settings().default_country == "86"
    assert Settings.from_env({"DELIVRD_DEFAULT_COUNTRY": "44"}).default_country == "44"
    assert Settings.from_env({"DELIVRD_DEFAULT_COUNTRY": "+852"}).default_country == "852"
    for bad in ("999", "CN", "+", "0086"):
        with pytest.raises(argparse.ArgumentTypeError, match="calling code"):
            phones.calling_code(bad)


def test_the_phone_route_reads_digits_alone_with_the_default_country(client):
    assert client.post("/sms/callback", content=body([report(1, mobile="13800138000")])).json() == ACK
    for typed in ("13800138000", "+8613800138000", "8613800138000"):
        timeline = client.get(f"/v1/phones/{typed}").json()
        assert (timeline["phone"], timeline["nationcode"], timeline["mobile"]) == (
            "+8613800138000",
            "86",
            "13800138000",
        )
        assert [m["sid"] for m in timeline["messages"]] == [report(1)["sid"]], typed
    # a number with '+' is taken as is: +13800138000 is a +1 number, which nothing was sent to
    assert client.get("/v1/phones/+13800138000").json()["messages"] == []


def test_the_phone_route_follows_default_country(start_app):
    client = start_app(default_country="44").client
    uk = report(2, nationcode="44", mobile="7700900123")
    assert client.post("/sms/callback", content=body([uk])).json() == ACK
    timeline = client.get("/v1/phones/07700900123").json()
    assert timeline["phone"] == "+447700900123"
    assert [m["sid"] for m in timeline["messages"]] == [uk["sid"]]


@pytest.mark.parametrize("typed", ["abc", "12ab", "-1"])
def test_the_phone_route_names_what_was_given(http_client, typed):
    answer = http_client.get(f"/v1/phones/{typed}")
    assert answer.status_code == 400
    error = answer.json()
    assert error["result"] == 1007
    assert f"got {typed!r}" in error["errmsg"] and f"'+{typed}'" not in error["errmsg"]
    assert "--default-country" in error["errmsg"]  # says how digits alone are read
