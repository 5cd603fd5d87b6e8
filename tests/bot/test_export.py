"""/export through `coop console --jsonl`, in English and Spanish: the usage's own example address, the co-op's
contracts and accounts and another member's account are refused; the hand-over is confirmed only by typing the
address's last four characters (a wrong guess leaves it open; Cancel still ends it)."""
from eth_account import Account

from core.custody import EXAMPLE
from tests.bot.console import Chain, button
from tests.bot.test_console import invite_code, onboard


def test_export_refuses_the_co_ops_addresses_and_is_confirmed_by_typing(console, tmp_path):
    onboard(console, "admin", "en")
    onboard(console, "bob", "en", invite_code(console))
    onboard(console, "ana", "es", invite_code(console))
    chain = Chain(tmp_path / "data")
    bobs, anas = chain.account("bob"), chain.account("ana")
    treasurer = Account.from_key(chain.keys["treasurer"]).address

    # English: every address that is not the member's own wallet says what it is.
    for address, said in ((EXAMPLE, "That is the example address from my message, not your wallet."),
                          (chain.contracts.food_usd.address, "That is one of the co-op's own contracts"),
                          (chain.contracts.account_factory.address, "That is one of the co-op's own contracts"),
                          (treasurer, "That is one of the co-op's own accounts, not your wallet."),
                          (anas, "That is another member's co-op account, not your own wallet."),
                          (bobs, "That is the co-op account itself")):
        console.send(**{"from": "bob", "text": f"/export {address}"})
        console.expect("bob", said)
    wallet = Account.create().address
    console.send(**{"from": "bob", "text": f"/export {wallet}"})
    offer = console.expect("bob", "To confirm, type the last 4 characters of that address, as your wallet app "
                                  "shows it.")
    assert [b["data"][:3] for row in offer["buttons"] for b in row] == ["no:"]  # no button confirms it
    console.send(**{"from": "bob", "text": "0000" if wallet[-4:] != "0000" else "1111"})
    console.expect("bob", "Those are not the last characters of the address, so nothing was done.")
    console.send(**{"from": "bob", "text": wallet[-4:].lower()})  # any case
    console.expect("bob", "On its way.")
    console.expect("bob", "Done. Your account now belongs to your own wallet")
    console.send(**{"from": "bob", "text": wallet[-4:]})  # nothing waits any more: read as a sentence
    console.expect("bob", "Sorry, I did not understand.")

    # Spanish: the same refusals, and Cancel ends a hand-over waiting for its characters.
    for address, said in ((EXAMPLE, "Esa es la dirección de ejemplo de mi mensaje, no tu billetera."),
                          (chain.contracts.group_buy.address, "Ese es uno de los contratos de la propia cooperativa"),
                          (Account.from_key(chain.keys["gas_payer"]).address,
                           "Esa es una de las cuentas de la propia cooperativa"),
                          (bobs, "Esa es la cuenta de la cooperativa de otra persona socia")):
        console.send(**{"from": "ana", "text": f"/export {address}"})
        console.expect("ana", said)
    wallet = Account.create().address
    console.send(**{"from": "ana", "text": f"/export {wallet}"})
    offer = console.expect("ana", "Para confirmar, escribe los últimos 4 caracteres de esa dirección")
    console.send(**{"from": "ana", "text": "0x" + ("0000" if wallet[-4:] != "0000" else "1111")})
    console.expect("ana", "Esos no son los últimos caracteres de la dirección, así que no se hizo nada.")
    console.send(**{"from": "ana", "press": button(offer, 0)})
    console.expect("ana", "Cancelado.")
    console.send(**{"from": "ana", "text": wallet[-4:]})
    console.expect("ana", "Perdón, no entendí.")
