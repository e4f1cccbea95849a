"""Discord client, slash-command cogs, delivery and rendering (the Discord bot issue)."""
