"""Playback through sounddevice (PortAudio), without Qt.

The audio callback runs on PortAudio's thread. It touches only plain attributes that the UI
thread replaces whole (the mixer, a pending seek, the loop, the play flag) and calls
``Mixer.render``, which allocates no sample buffers; it never takes a lock or calls Qt. The UI
polls ``position`` and ``peak`` with a timer.
"""

from __future__ import annotations

import logging

import numpy as np

from .mixer import Mixer

log = logging.getLogger(__name__)
CALLBACK_FRAMES = 1024  # frames per callback: a mixer change is heard within one block


class Player:
    def __init__(self, block_size: int = CALLBACK_FRAMES, device: int | str | None = None):
        self.block_size = block_size
        self.device = device
        self.reason: str | None = None  # why playback is unavailable, if it is
        self._sd = None
        self._stream = None
        self._rate = 0
        self._mixer: Mixer | None = None
        self._pos = 0
        # Seeks are requests (serial, frame) the callback acknowledges: none can be lost.
        self._seek_request = (0, 0)
        self._seek_done = 0
        self._loop: tuple[int, int] | None = None
        self._playing = False
        self.peak = 0.0  # of the last block, for the level meter
        self.callbacks = 0  # blocks rendered since the stream opened
        try:
            import sounddevice as sd
        except OSError as err:  # the PortAudio library itself is missing
            self.reason = f"PortAudio is not installed ({err}); install libportaudio2"
            return
        try:
            info = sd.query_devices(device, "output")
        except (ValueError, sd.PortAudioError) as err:
            self.reason = f"no audio output device ({err})"
            return
        if not info or info.get("max_output_channels", 0) < 1:
            self.reason = "no audio output device"
            return
        self._sd = sd

    @property
    def available(self) -> bool:
        return self.reason is None

    @property
    def position(self) -> int:
        serial, frame = self._seek_request
        return frame if serial != self._seek_done else self._pos

    @property
    def mixer(self) -> Mixer | None:
        return self._mixer

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def latency(self) -> float:
        """Output latency in seconds reported by the device (0 when closed)."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    def load(self, mixer: Mixer | None, sample_rate: int) -> None:
        """Play ``mixer`` (None: silence); reopens the stream if the rate changes."""
        self._mixer = mixer
        if not self.available or sample_rate == self._rate:
            return
        self._close_stream()
        try:
            self._stream = self._sd.OutputStream(
                samplerate=sample_rate, channels=2, dtype="float32", blocksize=self.block_size,
                device=self.device, callback=self._callback)
            self._stream.start()
            self._rate = sample_rate
        except Exception as err:  # a device that vanished or refuses the rate
            log.warning("cannot open audio output: %s", err)
            self.reason = f"cannot open the audio output at {sample_rate} Hz ({err})"
            self._stream = None

    def set_mixer(self, mixer: Mixer | None) -> None:
        self._mixer = mixer

    def play(self) -> None:
        if self.available and self._mixer is not None:
            if self.position >= self._mixer.n_frames:
                self.seek(0)
            self._playing = True

    def pause(self) -> None:
        self._playing = False

    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    def stop(self) -> None:
        self._playing = False
        self.seek(self._loop[0] if self._loop else 0)

    def seek(self, frame: int) -> None:
        self._seek_request = (self._seek_request[0] + 1, max(0, int(frame)))

    def set_loop(self, loop: tuple[int, int] | None) -> None:
        self._loop = loop

    def close(self) -> None:
        self._playing = False
        self._close_stream()

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
            self._rate = 0

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        self.callbacks += 1
        mixer, loop = self._mixer, self._loop
        serial, frame = self._seek_request
        if serial != self._seek_done:
            self._pos, self._seek_done = frame, serial
        if not self._playing or mixer is None:
            outdata.fill(0.0)
            self.peak = 0.0
            return
        pos, done = self._pos, 0
        while done < frames:
            end = loop[1] if loop and loop[0] <= pos < loop[1] else mixer.n_frames
            n = min(frames - done, end - pos)
            if n <= 0:
                if loop and end == loop[1]:
                    pos = loop[0]
                    continue
                outdata[done:].fill(0.0)
                self._playing = False
                break
            mixer.render(pos, outdata[done:done + n])
            pos += n
            done += n
        self._pos = pos
        self.peak = max(float(outdata.max()), -float(outdata.min()))
