"""/certify within the certification caps governance set (GroToken), through `coop console --jsonl`.

The console's chain is deployed with the pilot's defaults: 10 GRO per kg, at most 500 GRO a batch and
2,000 GRO a week.
"""
from tests.bot.console import Console, button
from tests.bot.test_console import onboard


def certified(console: Console, batch: str, kg: int) -> None:
    console.send(**{"from": "admin", "text": f"/certify admin {batch} {kg}"})
    offer = console.expect("admin", f"Certify batch {batch}")
    console.send(**{"from": "admin", "press": button(offer, 0)})
    console.expect("admin", f"Recorded: batch {batch}, {kg} kg grown by admin, earning {kg * 10} GRO.")
    console.expect("admin", f"Your produce batch {batch} is certified")  # the admin grew it


def test_the_admin_hears_plainly_when_a_cap_refuses_a_batch(console):
    onboard(console, "admin", "en")
    console.send(**{"from": "admin", "text": "/certify admin harvest 1000"})  # 10,000 GRO
    refusal = console.expect("admin", "")["text"]
    assert "more than the 500 GRO one batch may earn" in refusal and "at most 50 kg a batch" in refusal
    assert "buttons" not in refusal
    for i in range(4):  # 2,000 GRO: the week's cap
        certified(console, f"lot-{i}", 50)
    console.send(**{"from": "admin", "text": "/certify admin lot-4 1"})
    refusal = console.expect("admin", "This batch")["text"]
    assert "This batch would earn 10 GRO, but only 0 GRO more may be certified until" in refusal
    assert console.close() == 0
