"""`make bench` keeps working: the gas figures and the phrase shares run and print lines in the documented
format (docs/interfaces.md §6). The figures themselves are the bench's business, not a test's."""
import re

import pytest

from bench import gas, phrases

RATIO = re.compile(r"^[a-z][\w.]*: ratio \d+\.\d\d \(ours [\d,.]+ .+ vs anchor [\d,.]+ .+\) goal .+$")
ABSOLUTE = re.compile(r"^[a-z][\w.]*: [\d,.]+ .*\(absolute.*\) goal .+$")
SHARE = re.compile(r"^bot\.understood: (en|es|bn|fr) \d+ % of \d+ phrases \(absolute.*\) goal .+$")


@pytest.mark.parametrize("module, names", [
    (gas, {"gas.join", "gas.createLock", "gas.castVote.first", "gas.castVote.later", "gas.deploy"}),
    (phrases, {"bot.understood"}),
])
def test_bench_lines_come_out_in_the_documented_format(module, names):
    lines = list(module.run())
    for line in lines:
        assert RATIO.match(line) or ABSOLUTE.match(line) or SHARE.match(line), line
    assert {line.split(":")[0] for line in lines} == names
