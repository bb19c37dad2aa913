"""Which events an endpoint wants: its event types, and optional filters on what the events are about."""

from __future__ import annotations

from typing import Any

import msgspec

from delivrd.domain.event_types import OF_REPORTS


class Filters(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Each filter lists the values wanted; an event passes when, for every filter that its data has a field
    for, its value is listed. A filter says nothing of events without that field (a reply has no
    report_status), so they pass. `template` is the template of the registered send (reports of a message
    sent without registering it have none, and do not pass)."""

    report_status: list[str] | None = None
    nationcode: list[str] | None = None
    category: list[str] | None = None
    template: list[str] | None = None

    def matches(self, event_type: str, data: dict[str, Any], template: str | None) -> bool:
        for field in ("report_status", "nationcode", "category"):
            wanted = getattr(self, field)
            if wanted is not None and field in data and data[field] not in wanted:
                return False
        if self.template is not None:
            if event_type in OF_REPORTS:
                return template in self.template
            if "template_id" in data:
                return data["template_id"] in self.template
        return True


def decode(text: str | None) -> Filters | None:
    return None if text is None else msgspec.json.decode(text, type=Filters)
