"""Erasing a number that opted out: the opt-out stays (the person asked not to be contacted), without the number."""

from __future__ import annotations

from delivrd.domain.erasure import suppressed
from tests.test_optouts import PHONE, push_reply, reply


def test_an_erased_number_stays_opted_out_without_being_stored(app):
    client = app.client
    push_reply(app, reply("TD"))
    erased = client.delete(f"/v1/phones/{PHONE}").json()
    assert erased["masked"]["optouts"] == 1 and erased["masked"]["optout_changes"] == 1
    assert erased["removed"]["replies"] == 1
    listed = client.get("/v1/optouts").json()["items"]
    assert [(o["phone"], o["mobile"], o["note"]) for o in listed] == [(suppressed(PHONE), "erased:", None)]
    assert "13800138000" not in client.get("/v1/optouts/changes").text
    # looked up by the number, it is still on the list: the send helper refuses it as before
    view = client.get(f"/v1/phones/{PHONE}").json()
    assert view["optout"]["opted_out"] is True and view["replies"] == []
    assert [o["phone"] for o in client.get("/v1/optouts", params={"phone": PHONE}).json()["items"]] == [
        suppressed(PHONE)
    ]
    # listed again by hand and erased again: one entry, under the hash
    assert client.delete(f"/v1/optouts/{PHONE}").status_code == 200
    assert client.post("/v1/optouts", json={"phone": PHONE}).status_code == 201
    assert client.delete(f"/v1/phones/{PHONE}").json()["masked"]["optouts"] == 1
    assert [o["phone"] for o in client.get("/v1/optouts").json()["items"]] == [suppressed(PHONE)]
    # and a reply START from the number takes it off the list, as for any number
    push_reply(app, reply("START", time=1790000500))
    assert client.get(f"/v1/phones/{PHONE}").json()["optout"]["opted_out"] is False
    assert client.get("/v1/optouts").json()["items"] == []
