"""Drawing: ``plots`` turns arrays into one figure each; ``run_figures`` picks the figures a run
gets from its evaluation. Nothing here logs: ``autoencoders.tracking`` does."""
