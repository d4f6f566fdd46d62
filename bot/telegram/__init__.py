"""The Telegram adapter (python-telegram-bot 22): rendering, the delivery sender, the gateway."""
