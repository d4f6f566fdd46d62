"""`make bench` (python -m bench [poll|cards|delivery|telegram] [N|fanout|crash]): every benchmark,
figures and ratios printed.

Never part of the tests: the machines are shared, so nothing here asserts a time.
"""

from __future__ import annotations

import sys

from bench import cards, delivery, poll


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("all", "poll"):
        poll.main(int(sys.argv[2]) if len(sys.argv) > 2 else poll.FEEDS)
    if which in ("all", "cards"):
        cards.main()
    if which in ("all", "delivery"):
        delivery.main(sys.argv[2] if len(sys.argv) > 2 else "all")
    if which in ("all", "telegram"):
        from bench import telegram  # here: only this benchmark needs python-telegram-bot

        telegram.main(int(sys.argv[2]) if len(sys.argv) > 2 else telegram.QUESTIONS)


if __name__ == "__main__":
    main()
