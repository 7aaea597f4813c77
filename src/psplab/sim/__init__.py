"""psplab.sim."""
