"""Where conversations come from and replies go: one module per channel."""
