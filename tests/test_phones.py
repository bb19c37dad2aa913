"""E.164 both ways: every `phone` a report gets is split back into the same nationcode and mobile."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delivrd.domain import phones


@given(nationcode=st.sampled_from(sorted(phones.CALLING_CODES)), mobile=st.from_regex(r"[0-9]{1,15}", fullmatch=True))
def test_a_phone_splits_back_into_what_made_it(nationcode, mobile):
    phone = phones.e164(nationcode, mobile)
    assert phone is not None and phones.split(phone) == (nationcode, mobile)


@pytest.mark.parametrize(
    ("nationcode", "mobile"),
    [
        ("0", "13800138000"),
        ("999", "1"),
        ("86", "13xxxxxxxxx"),
        ("86", "１３８"),
        (None, "1"),
        ("86", ""),
        ("+86", "1"),
    ],
)
def test_no_phone_for_what_no_country_dials(nationcode, mobile):
    assert phones.e164(nationcode, mobile) is None


@pytest.mark.parametrize("phone", ["8613800138000", "+", "+86", "+0123", "+999123", "+86 138", "+８６１"])
def test_what_is_not_e164_is_refused_with_why(phone):
    with pytest.raises(ValueError):
        phones.split(phone)


def test_split_examples():
    assert phones.split("+8613800138000") == ("86", "13800138000")
    assert phones.split("+860") == ("86", "0")
    assert phones.split("+14155550100") == ("1", "4155550100")
    assert phones.split("+85291234567") == ("852", "91234567")
