"""Our own multi-stem training data: songs composed from a seed, played by General MIDI
soundfonts through FluidSynth, sung by espeak-ng through PSOLA, and mixed like a producer would."""

from .song import STEMS, Song, Synthesizer

__all__ = ["STEMS", "Song", "Synthesizer"]
