"""psplab.report."""
