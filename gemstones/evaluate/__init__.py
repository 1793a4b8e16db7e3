"""Evaluate checkpoints on the user's own data: metrics (loss, bits per byte, multiple choice)."""
