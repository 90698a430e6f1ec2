"""Our own multi-stem training data: songs composed from a seed, played by General MIDI
soundfonts through FluidSynth, sung (v1: espeak-ng through PSOLA; v2: Festival voices re-sung by
WORLD), and mixed (v2: and mastered) like a producer would."""

from .song import STEMS, VERSIONS, Song, Synthesizer

__all__ = ["STEMS", "VERSIONS", "Song", "Synthesizer"]
