"""BENet: a lightweight bottom-up framework for context-aware emotion recognition (notebook-driven, nbdev)

Modules:

- `benet.vocab`: EMOTIC's 26 categories (the order is the channel order of every emotion map), the continuous VAD dimensions, HECO's 8 categories, how HECO maps onto EMOTIC, and the misspellings met in the wild."""

__version__ = "0.1.0"
