"""Datamodules: every split in memory, batches as tensor slices."""
