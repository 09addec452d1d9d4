"""Use cases shared by the bot, the gallery, the CLI and the workers: one rule, one place."""
