"""Admins listed in the settings need no invite (their first message starts them), and /stats says what each
figure counts: admins apart from residents who joined with an invite, invites by what became of them."""
import re

from tests.bot.console import Console
from tests.bot.test_console import onboard

CODE = r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b"


def test_an_admins_first_message_is_invite_and_it_works(tmp_path):
    console = Console(tmp_path / "data", admins=("admin", "luz"))
    try:
        console.send(**{"from": "admin", "text": "/invite 2", "lang": "en"})  # no /start before
        console.heard("admin", "Welcome! You are an admin of the co-op. I will speak English with you; /lang "
                               "changes it.")
        codes = re.findall(CODE, console.expect("admin", "/start")["text"])
        assert len(codes) == 2
        onboard(console, "ana", "es", codes[0])
        onboard(console, "raj", "bn", codes[1])
        console.send(**{"from": "admin", "text": "/invite 1"})
        console.expect("admin", "/start")

        console.send(**{"from": "admin", "text": "/stats"})
        stats = console.expect("admin", "Members")["text"].splitlines()
        assert stats[:4] == [
            "Members: 3 (admins: 1; joined with an invite: 2).",
            "Invites made: 3 (used: 2; still open: 1; expired unused: 0).",
            "Members who wrote this week: 3 of 3.",
            "Members who joined an order or voted: 0 of 3.",
        ]

        # A second admin, in Spanish: her first message is /stats, and she counts as an admin at once.
        console.send(**{"from": "luz", "text": "/stats", "lang": "es"})
        console.heard("luz", "Eres admin de la cooperativa. Te hablaré en español")
        stats = console.expect("luz", "4")["text"].splitlines()
        assert stats[0] == "Miembros: 4 (administradores: 2; entraron con una invitación: 2)."
        assert console.close() == 0
    finally:
        if console.process.poll() is None:
            console.process.kill()
