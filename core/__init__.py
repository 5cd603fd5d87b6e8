"""The co-op's use cases, written once for every door: the chat (handlers/), the web page and the digests.

A use case takes its collaborators (`Ports`: the ledger, a unit of work, a clock, the members' wallets) and
plain values (ids, amounts in minor units), and returns a typed result: what it offers for confirmation, or
why it refuses (`Refused`). It never words anything: the chat renders a result as text and buttons in the
member's language, a web API would render the same result as JSON.

- `ports.py` — what use cases depend on, and the production adapters (SQLAlchemy's unit of work, the clock).
- `results.py` — `Refused`, `Offered`.
- `offers.py` — a money-moving action offered for confirmation, confirmed once, its intent written durably.
- `orders.py` — the open orders with the member's share, joining one, offering extra units to fill a case, who
  joined in which order.
- `governance.py` — the proposals as members follow them, proposing one, voting quadratically (on the chain's
  clock, `ports.ledger.clock()`).
- `custody.py` — handing an account to the member's own wallet; whether they did.
- `claims.py` — what closed orders still owe members (the keeper claims it for them), and a member's own claim.
- `wallet.py` — a resident's balances, Food-USD sent to a neighbour, GRO redeemed for produce.
- `escrow.py` — locking GRO for voting power: a new lock, more GRO, a later end, the GRO taken back.
- `onboarding.py` — `/start CODE`: a new resident (or one more channel of one), and the throttle on wrong codes.
- `admin.py` — what admins do: invite codes, new orders, cash deposits, certified produce (each of the last three
  offered for confirmation), broadcasts.
- `history.py` — a member's recent events, and who took part in an order or a proposal (the indexed history).
- `members.py` — who MEMBER names (an id, alias or number, never a display name); what a member sets for
  themselves and says: their language, sensor alerts, feedback (and the feedback as admins read it).
- `metrics.py` — the pilot's figures (/stats), each saying what it counts.
- `treasury.py` — an admin closing an order early, paying cash out, listing the members.
"""
