"""/explain [TOPIC]: Food-USD, GroToken, veGRO and quadratic voting in plain words (also from /menu and from
questions like "what is GroToken?")."""
from handlers.base import Button, Context, Reply
from handlers.understand import topic_of

TOPICS = ("fusd", "gro", "vegro", "quadratic")


def title(ctx: Context, topic: str) -> str:
    return {"fusd": ctx.t("What is Food-USD?"), "gro": ctx.t("What is GroToken?"),
            "vegro": ctx.t("What is veGRO?"), "quadratic": ctx.t("What is quadratic voting?")}[topic]


def text(ctx: Context, topic: str) -> str:
    return {
        "fusd": ctx.t("Food-USD is the co-op's money for group food orders. One Food-USD is one dollar you gave an "
                      "admin in cash; the admin records it and it shows in /balance. You spend it when you join an "
                      "order (/orders). If an order does not go ahead, your Food-USD comes back to you."),
        "gro": ctx.t("GroToken (GRO) is earned by growing food in the co-op's grow room: when an admin records a "
                     "harvest, the growers get GRO. It is not for shopping. Lock it (/lock) to get veGRO, which "
                     "gives you a say in co-op decisions."),
        "vegro": ctx.t("veGRO is your voting power. You get it by locking GRO for some weeks with /lock AMOUNT WEEKS: "
                       "more GRO and a longer lock give more veGRO. It shrinks as the end of the lock comes near, "
                       "and then your GRO is yours to take back. /balance shows it as voting power."),
        "quadratic": ctx.t("In quadratic voting each extra vote costs more: 1 vote costs 1 credit, 2 votes cost 4, "
                           "3 votes cost 9. Your credits are your veGRO when voting opens. You can show how much "
                           "you care, but nobody can decide alone just by holding much more. See /proposals."),
    }[topic]


async def explain(ctx: Context, args: list[str]) -> list[Reply]:
    topic = topic_of(" ".join(args)) if args else None
    if topic is None:
        return [ctx.reply(ctx.t("What would you like explained?"),
                          [[Button(title(ctx, t), f"cmd:explain {t}")] for t in TOPICS])]
    return [ctx.reply(text(ctx, topic))]
