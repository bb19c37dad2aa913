"""The receipt code catalogue: every code the spec names has a category, unknown codes fall to `unknown`, and
no condition is filed under two categories."""

import json
from importlib import resources

import pytest

from delivrd.providers.tencent import receipts

# Every code in shared/spec/tencent-sms-callbacks.md section 3, with the category it belongs to.
SPEC_CODES = {
    "delivered": ["DELIVRD"],
    "invalid_number": [
        "SUBFAIL",
        "TD:18",
        "MK:0001",
        "MK:0005",
        "1",
        "5",
        "45",
        "50",
        "UNDELIV_601",
        "UNDELIV_640",
        "UNDELIV_705",
    ],
    "unreachable": [
        "MK:0024",
        "MK:0008",
        "4",
        "51",
        "53",
        "54",
        "15",
        "55",
        "86",
        "LT:0002",
        # no such number, suspended or switched off, the carrier does not say which: see test_no_condition_...
        "UNDELIVRD",
        "UNDELIV",
        "MN:0001",
        "MK:0000",
        "MK:0012",
        "MN:0054",
        "MI:0000",
        "MI:0042",
        "MI:0084",
        "MC:0151",
        "IC:0001",
    ],
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
    assert receipts.lookup("MI:0084").category == "unreachable"


def test_catalogue_lists_every_category_once():
    catalogue = receipts.catalogue()
    assert [c.key for c in catalogue.categories] == list(receipts.CATEGORIES)
    assert len({c.code for c in catalogue.codes}) == len(catalogue.codes)
    assert {c.category for c in catalogue.codes} == set(receipts.CATEGORIES)


#: the conditions a receipt's explanation can name (English and Chinese, lower case) → the one category that owns
#: each; Tencent's own statistics keep a switched-off handset (ShutdownError) apart from an invalid number
CONDITIONS = {
    "switched off": "unreachable",
    "关机": "unreachable",
    "out of coverage": "unreachable",
    "不在服务区": "unreachable",
    "signal": "unreachable",
    "信号": "unreachable",
    "does not exist": "invalid_number",
    "no such number": "invalid_number",
    "空号": "invalid_number",
    "suspended": "invalid_number",
    "停机": "invalid_number",
    "invalid number": "invalid_number",
    "无效号码": "invalid_number",
    "number format": "invalid_number",
    "号码格式": "invalid_number",
    "storage is full": "handset_full",
    "存储已满": "handset_full",
    "blacklist": "blacklisted",
    "黑名单": "blacklisted",
    "unsubscribe": "unsubscribed",
    "退订": "unsubscribed",
    "daily message limit": "rate_limited",
    "上限": "rate_limited",
    "sensitive words": "content_rejected",
    "敏感词": "content_rejected",
    "phishing": "content_rejected",
    "钓鱼": "content_rejected",
    "review": "content_rejected",
    "审核": "content_rejected",
    "validity": "expired",
    "有效期": "expired",
}
#: how an explanation says the carrier named several conditions at once
AMBIGUOUS = {"en": "does not say which", "zh": "未细分"}


def _meanings() -> list[dict]:
    data = json.loads(
        resources.files("delivrd.providers.tencent").joinpath("receipts.json").read_text(encoding="utf-8")
    )
    return data["meanings"]


def _named(meaning: dict) -> str:
    return ", ".join(
        meaning.get("codes", []) + meaning.get("prefixes", []) + ["…".join(r) for r in meaning.get("ranges", [])]
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_condition_is_filed_under_two_categories(language):
    """Each condition belongs to one category. A code that may mean conditions of two categories says so, and is
    filed where its advice is safe for all of them: `unreachable` when the handset may simply be off (retrying a
    wrong number costs one message; dropping a number that was only switched off loses a user)."""
    wrong = []
    for meaning in _meanings():
        text = meaning[language].lower()
        owners = {category for condition, category in CONDITIONS.items() if condition in text}
        if len(owners) > 1:
            if AMBIGUOUS[language] not in text:
                wrong.append(f"{_named(meaning)}: names conditions of {sorted(owners)} without saying it is ambiguous")
            elif "unreachable" in owners and meaning["category"] != "unreachable":
                wrong.append(f"{_named(meaning)}: may be a switched-off handset, filed as {meaning['category']}")
        elif owners and owners != {meaning["category"]}:
            wrong.append(f"{_named(meaning)}: {text!r} is {owners.pop()}, filed as {meaning['category']}")
    assert wrong == []


def test_a_code_family_has_one_category():
    """A prefix's codes (MN:…, MI:…) share its category: the catalogue must not file MN:0001 under one category and
    MN:0999 under another. (UNDELIV_… is China Telecom's own family, an abnormal line, apart from UNDELIV.)"""
    catalogue = receipts.catalogue()
    wrong = []
    for pattern in catalogue.patterns:
        if pattern.prefix is None:
            continue
        family = [c for c in catalogue.codes if c.code.startswith(pattern.prefix)]
        family += [
            receipts.lookup(low)
            for p in catalogue.patterns
            if p.range is not None
            for low in p.range
            if low.startswith(pattern.prefix)
        ]
        wrong += [
            f"{c.code} is {c.category}, {pattern.prefix}… {pattern.category}"
            for c in family
            if c.category != pattern.category
        ]
    assert wrong == []
