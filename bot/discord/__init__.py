"""The Discord adapter (discord.py 2.7).

Output side: ``render`` (card, digest and answer embeds and texts, within every Discord
limit), ``components`` (persistent buttons and the FAQ menu, ``DynamicItem``s whose
custom_id carries the card id) and ``sender`` (``DiscordSender``, the delivery worker's
``Sender`` over HTTP only). Gateway side: ``platform`` (the client, slash commands, login)
and ``followups`` (what the buttons and ``/ask`` answer).
"""
