"""common.rules: the one definition of ids, names, e-mail addresses and times."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from common import rules
from common.protocol import DEFAULT_LIMITS, MessageType, ProtocolError, decode, encode, make_image_message


@pytest.mark.parametrize("value", ["a", "A", "7", "room-1", "lab_1", "s.1", "x" * 64, "0123456789abcdef"])
def test_valid_ids(value: str) -> None:
    assert rules.is_id(value)
    assert rules.check_id("classroom_id", value) == value


@pytest.mark.parametrize("value", ["", "_lab", "-x", ".hidden", "x" * 65, "has space", "a/b", "é", "a\n",
                                   None, 5, b"ab"])
def test_invalid_ids(value: object) -> None:
    assert not rules.is_id(value)
    with pytest.raises(rules.RuleViolation, match="classroom_id must be"):
        rules.check_id("classroom_id", value)


def test_id_pattern_is_the_compiled_rule_everywhere() -> None:
    from cloud import records
    from cloud.api import validation

    assert rules.ID_RE.pattern == rules.ID_PATTERN
    assert records.ID_PATTERN is rules.ID_RE
    assert validation.SafeId.__metadata__[0].pattern == rules.ID_PATTERN  # type: ignore[attr-defined]
    assert re.fullmatch(rules.ID_PATTERN, "x" * rules.ID_MAX_CHARS)


def test_wire_id_rule_is_wider_and_length_bounded() -> None:
    assert rules.check_wire_id("camera_id", "_lab") == "_lab"
    assert rules.check_wire_id("camera_id", "Room 101 (east)") == "Room 101 (east)"
    assert rules.check_wire_id("camera_id", "x" * rules.WIRE_ID_MAX_CHARS)
    assert DEFAULT_LIMITS.max_id_chars == rules.WIRE_ID_MAX_CHARS
    with pytest.raises(rules.RuleViolation) as too_long:
        rules.check_wire_id("camera_id", "x" * (rules.WIRE_ID_MAX_CHARS + 1))
    assert too_long.value.kind == "too_long"
    with pytest.raises(rules.RuleViolation) as empty:
        rules.check_wire_id("camera_id", "")
    assert empty.value.kind == "invalid"


def test_protocol_applies_the_wire_rule() -> None:
    message = make_image_message(MessageType.FACE_CROP, b"\xff\xd8jpeg", 8, 8, camera_id="cam 1", classroom_id="_lab")
    assert decode(encode(message)).header.classroom_id == "_lab"
    message.header.classroom_id = "x" * 129
    with pytest.raises(ProtocolError) as oversize:
        encode(message)
    assert oversize.value.reason == "oversize_field"
    message.header.classroom_id = ""
    with pytest.raises(ProtocolError) as empty:
        encode(message)
    assert empty.value.reason == "bad_field"


def test_names() -> None:
    assert rules.check_name("name", "  Ada Lovelace ") == "Ada Lovelace"
    assert rules.check_name("name", "x" * 200 + "   ") == "x" * 200
    for bad in ("", "   ", "x" * 201, None, 3):
        with pytest.raises(rules.RuleViolation, match="name must be non-empty text"):
            rules.check_name("name", bad)


def test_emails() -> None:
    assert rules.check_email("ada@example.org") == "ada@example.org"
    assert rules.check_email(" ada@example.org ") == "ada@example.org"
    assert rules.check_email(None) is None and rules.check_email("") is None
    for bad in ("not-an-email", "a@b", "a b@c.org", "@c.org", "a@@c.org", "a@c.", 42,
                "a@" + "b" * 250 + ".org"):
        assert not rules.is_email(bad)
        with pytest.raises(rules.RuleViolation, match="not an e-mail address"):
            rules.check_email(bad)


def test_email_pattern_matches_the_api_type() -> None:
    from cloud.api import validation

    assert validation.Email.__metadata__[0].pattern == rules.EMAIL_PATTERN  # type: ignore[attr-defined]


def test_parse_time() -> None:
    assert rules.parse_time(None, "t") is None and rules.parse_time("", "t") is None
    assert rules.parse_time("1970-01-01T00:00:01Z", "t") == 1000
    assert rules.parse_time("1970-01-01T00:00:01", "t") == 1000  # naive = UTC
    assert rules.parse_time("1970-01-01T01:00:01+01:00", "t") == 1000
    assert rules.parse_time(1234, "t") == 1234 and rules.parse_time(12.9, "t") == 12
    assert rules.parse_time(datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=1))), "t") == -3_600_000
    for bad in ("yesterday", True, [1], object()):
        with pytest.raises(rules.RuleViolation, match="starts_at"):
            rules.parse_time(bad, "starts_at")


def test_cloud_inputs_raise_invalid_input() -> None:
    from cloud import inputs
    from cloud.errors import InvalidInput

    for call in (lambda: inputs.check_id("student_id", "_x"), lambda: inputs.check_name("name", " "),
                 lambda: inputs.check_email("nope"), lambda: inputs.parse_time("soon", "ends_at")):
        with pytest.raises(InvalidInput):
            call()
    assert inputs.check_name("name", None, required=False) is None
