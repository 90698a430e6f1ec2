"""Stemma's lab: what makes the shipped models, never needed to run them.

- ``training``: the song synthesizer, test sets, datasets, augmentations and the trainers;
- ``evaluation``: ``stemma-lab eval``, the metrics and the reports;
- ``nn``: the networks only training needs (the codec with its teacher and quantizers, the
  conditioner, the token separator as trained, the band-split mask model);
- ``cli``: the ``stemma-lab`` command.

The lab imports the engine; the engine and the app never import the lab (an import-linter
contract in ``pyproject.toml``, run as a CI gate).
"""
