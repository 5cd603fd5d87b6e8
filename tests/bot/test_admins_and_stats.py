"""Admins listed in the settings need no invite (their first message starts them), and /stats says what each
figure counts: admins, and residents who joined with an invite code (an admin may have too); invites by what
became of them."""
import re

from tests.bot.console import Console
from tests.bot.test_console import onboard

CODE = r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b"


def test_an_admins_first_message_is_invite_and_it_works(tmp_path):
    console = Console(tmp_path / "data", admins=("admin", "luz", "mo"))
    try:
        console.send(**{"from": "admin", "text": "/invite 3", "lang": "en"})  # no /start before
        console.heard("admin", "Welcome! You are an admin of the co-op. I will speak English with you; /lang "
                               "changes it.")
        codes = re.findall(CODE, console.expect("admin", "/start")["text"])
        assert len(codes) == 3
        onboard(console, "ana", "es", codes[0])
        onboard(console, "raj", "bn", codes[1])
        onboard(console, "mo", "fr", codes[2])  # an admin who came with an invite all the same
        console.send(**{"from": "admin", "text": "/invite 1"})
        console.expect("admin", "/start")

        console.send(**{"from": "admin", "text": "/stats"})
        stats = console.expect("admin", "Members")["text"].splitlines()
        assert stats == [
            "Members: 4 (admins: 2; joined with an invite code: 3).",
            "Invites made with /invite: 4 (used: 3; still open: 1; expired unused: 0).",
            "Members who wrote in the last 7 days: 4 of 4.",
            "Members who ever joined an order or voted: 0 of 4.",
            "No confirmed actions yet.",
            "No feedback yet.",
        ]

        # A second admin, in Spanish: her first message is /stats, and she counts as an admin at once.
        console.send(**{"from": "luz", "text": "/stats", "lang": "es"})
        console.heard("luz", "Eres admin de la cooperativa. Te hablaré en español")
        stats = console.expect("luz", "5")["text"].splitlines()
        assert stats[0] == "Miembros: 5 (administradores: 3; entraron con un código de invitación: 3)."
        assert console.close() == 0
    finally:
        if console.process.poll() is None:
            console.process.kill()
