"""Plain ``torch`` encoders and decoders: no Lightning, no Hydra, usable on their own."""
