"""psplab.strength."""
