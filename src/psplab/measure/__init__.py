"""psplab.measure."""
