"""Invite codes as people type them."""
from core.admin import new_code
from handlers.doorstep import read_code, show_code


def test_a_code_is_read_whatever_the_case_dashes_spaces_and_look_alike_digits():
    code = new_code()
    assert read_code([show_code(code).lower()]) == code
    assert read_code(show_code(code).split("-")) == code
    # Base32 has no 0, 1 or 8: copied from paper or read aloud, they are the letters O, I and B.
    assert read_code(["sWgr-d2xm", "t24M-DXY0"]) == "SWGRD2XMT24MDXYO"
    assert read_code(["1B8O-0000"]) == "IBBOOOOO"
