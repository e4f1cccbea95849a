"""End-to-end tests: the bot against a local Discord emulator."""
