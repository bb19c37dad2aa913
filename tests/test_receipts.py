"""The receipt code catalogue: every code the spec names has a category, unknown codes fall to `unknown`."""

import pytest

from delivrd.providers.tencent import receipts

# Every code in shared/spec/tencent-sms-callbacks.md section 3, with the category it belongs to.
SPEC_CODES = {
    "delivered": ["DELIVRD"],
    "invalid_number": [
        "UNDELIVRD",
        "UNDELIV",
        "SUBFAIL",
        "TD:18",
        "MN:0001",
        "MK:0000",
        "MK:0012",
        "MK:0001",
        "MN:0054",
        "MI:0000",
        "MI:0042",
        "MI:0084",
        "MC:0151",
        "IC:0001",
        "MK:0005",
        "1",
        "5",
        "45",
        "50",
        "UNDELIV_601",
        "UNDELIV_640",
        "UNDELIV_705",
    ],
    "unreachable": ["MK:0024", "MK:0008", "4", "51", "53", "54", "15", "55", "86", "LT:0002"],
    "handset_full": ["MK:0017", "MI00022", "43", "79"],
    "blacklisted": [
        "BWLIST _006",
        "TD:0001",
        "TD:19",
        "MB:1077",
        "DB:0141",
        "DB:0144",
        "DB:0164",
        "HIGRISK",
        "BWLIST",
        "HD:19",
        "69",
        "W-BLACK",
    ],
    "unsubscribed": ["MX:0012", "TUIDING"],
    "rate_limited": ["MX:0003", "TE:0003"],
    "content_rejected": ["REJECTD", "REJECTD_006", "REJECTD_706", "TE:0014", "TD:0004", "TC:0007"],
    "carrier_error": [
        "TE:0002",
        "ID:0013",
        "ID:0070",
        "IC:0015",
        "DB:0505",
        "IA:0051",
        "NOROUTE",
        "COMFAIL",
        "WTNFAIL",
        "DELETED",
    ],
    "expired": ["EXPIRED", "EXPIRED_602"],
    "unknown": ["UNKNOWN"],
}


@pytest.mark.parametrize("category, code", [(c, code) for c, codes in SPEC_CODES.items() for code in codes])
def test_every_spec_code_has_its_category_and_both_languages(category, code):
    found = receipts.lookup(code)
    assert found.category == category
    assert found.match != "none" or code == "UNKNOWN"
    for text in (found.explanation, found.action):
        assert text.en and text.zh and text.en != text.zh


@pytest.mark.parametrize("code", ["NEWCODE:42", "", None, "delivrd", "MK:9999"])
def test_unknown_codes_are_unknown_never_an_error(code):
    assert receipts.lookup(code).category == "unknown"
    assert receipts.lookup(code).match == "none"


def test_handset_side_prefixes_and_ranges():
    assert receipts.lookup("MN:0999").match == "prefix" and receipts.category("MN:0999") == "unreachable"
    assert receipts.lookup("MI:0085").category == "unreachable"  # outside the MI:0000…MI:0084 range
    assert receipts.lookup("MI:0084").category == "invalid_number"


def test_catalogue_lists_every_category_once():
    catalogue = receipts.catalogue()
    assert [c.key for c in catalogue.categories] == list(receipts.CATEGORIES)
    assert len({c.code for c in catalogue.codes}) == len(catalogue.codes)
    assert {c.category for c in catalogue.codes} == set(receipts.CATEGORIES)
