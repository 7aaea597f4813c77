"""psplab.causal."""
