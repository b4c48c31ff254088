"""The four main views of the window: chat, models, server, privacy."""
