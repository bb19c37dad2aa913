"""The opt-out list in the store, both backends: several processes applying replies at once, changes in order."""

from __future__ import annotations

import asyncio

from delivrd.domain.push import REPLY, Push
from delivrd.domain.unsubscribe import DEFAULT_OPTOUT_KEYWORDS, DEFAULT_RESUBSCRIBE_KEYWORDS, Classifier
from delivrd.providers.tencent.decode import reply_row
from delivrd.store import open_store
from delivrd.store.base import OptOutChange, OptOutQuery

T0 = 1_790_000_000_000_000
CLASSIFY = Classifier(DEFAULT_OPTOUT_KEYWORDS, DEFAULT_RESUBSCRIBE_KEYWORDS)


def reply(n: int, text: str, mobile: str) -> Push:
    item = {"extend": "", "mobile": mobile, "nationcode": "86", "sign": "Acme", "text": text, "time": 1790000000 + n}
    return Push(REPLY, T0 + n, "127.0.0.1", 200, "stored", 10, b"{}", [reply_row(item)])


def test_processes_applying_replies_at_once_make_each_change_once_in_order(backend, tmp_path):
    """Four stores (as four worker processes) write replies and apply them concurrently: every reply is looked
    at exactly once, and each number's changes follow its replies' order."""
    db = tmp_path / "d.db"
    url = backend.database_url(db)
    numbers = [f"1380000{n:04d}" for n in range(20)]

    async def go() -> list:
        stores = [open_store(str(db), url) for _ in range(4)]
        for store in stores:
            await store.open()
        try:

            async def worker(w: int) -> None:
                store = stores[w]
                for n, mobile in enumerate(numbers[w::4]):
                    # TD, then START, then TD again: three changes per number, in this order
                    for step, text in enumerate(("TD", "START", "td")):
                        await store.write([reply(100 * n + 10 * step + w, text, mobile)])
                        await store.apply_replies(CLASSIFY, limit=3)

            await asyncio.gather(*(worker(w) for w in range(4)))
            while await stores[0].apply_replies(CLASSIFY) > 0:
                pass
            history = []
            query = OptOutQuery(limit=1000)
            while True:
                page = await stores[1].optout_changes(query)
                history += page.items
                if page.next_before_id is None:
                    return history
                query = OptOutQuery(limit=1000, before_id=page.next_before_id)
        finally:
            for store in stores:
                await store.close()

    history = list(reversed(asyncio.run(go())))
    assert len(history) == 3 * len(numbers)
    assert len({c.reply_id for c in history}) == len(history)  # no reply made two changes
    for mobile in numbers:
        mine = [(c.action, c.note) for c in history if c.mobile == mobile]
        assert mine == [("added", "TD"), ("removed", "START"), ("added", "td")]


def test_changes_apply_in_order_and_only_when_they_change_something(backend, tmp_path):
    def change(action: str, phone: str = "+8613800138000", source: str = "manual", **kw) -> OptOutChange:
        return OptOutChange(phone, "86", phone[3:], action, source, T0, **kw)

    async def go() -> tuple:
        store = open_store(str(tmp_path / "d.db"), backend.database_url(tmp_path / "d.db"))
        await store.open()
        try:
            made = await store.change_optouts(
                [
                    change("removed"),  # not on the list: nothing
                    change("added", note="first"),
                    change("added", source="import"),  # already on it: nothing
                    change("removed"),
                    change("added", "+8613900000000", sign="Acme"),
                ]
            )
            now = await store.optouts(OptOutQuery())
            return made, now
        finally:
            await store.close()

    made, now = asyncio.run(go())
    assert [m and m.action for m in made] == [None, "added", None, "removed", "added"]
    ids = [m.id for m in made if m]
    assert ids == sorted(ids)
    assert [(r.phone, r.sign) for r in now.items] == [("+8613900000000", "Acme")]
