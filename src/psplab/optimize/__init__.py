"""psplab.optimize."""
