"""Just enough of the WAV, AIFF, Ogg and MP3 layouts to tell what a file promises.

The decoders say what they decoded; these say what the file was meant to hold, so that a file
cut short (a copy that stopped, a download that broke) is reported instead of being taken, in
silence, for a shorter song. Used only by ``audio_io``; each function reads a few bytes and
returns ``None`` where its format has nothing to say.
"""

from __future__ import annotations

import struct
from pathlib import Path

# libsndfile subtype -> bytes per sample, for PCM data whose size gives the frame count.
PCM_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
             "DOUBLE": 8, "ULAW": 1, "ALAW": 1}
UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # what streaming writers put in a size field they never fill
MAX_CHUNKS = 64  # chunks walked before the data chunk; real files have a handful


def declared_frames(path: Path, container: str, subtype: str, n_channels: int) -> int | None:
    """Frames a WAV or AIFF header declares (its data chunk size), or None.

    libsndfile trims a data chunk that runs past the end of the file to what is there, so its
    frame count never shows that a file was cut; the header still does.
    """
    width = PCM_BYTES.get(subtype)
    if width is None or container not in ("WAV", "AIFF"):
        return None
    with open(path, "rb") as fh:
        head = fh.read(12)
        if container == "WAV" and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            endian, target, skip = "<", b"data", 0
        elif container == "AIFF" and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            endian, target, skip = ">", b"SSND", 8  # SSND starts with offset and block size
        else:
            return None  # RF64, RIFX, ...: libsndfile's count stands
        pos = 12
        for _ in range(MAX_CHUNKS):
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            size = struct.unpack(endian + "I", chunk[4:])[0]
            if chunk[:4] == target:
                return None if size in UNKNOWN_SIZES else (size - skip) // (width * n_channels)
            pos += 8 + size + (size & 1)  # chunks are padded to even sizes
    return None


def ogg_cut_short(path: Path) -> bool:
    """True if an Ogg file does not end on a whole page marked end-of-stream.

    The last page of a finished Ogg stream carries the end-of-stream flag (header type 0x04,
    RFC 3533); a file cut short ends on a page without it, or in the middle of one. Ogg has no
    length field, so how much is missing cannot be known.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (1 << 16)))  # a page is at most 65,307 bytes
        tail = fh.read()
    at = tail.rfind(b"OggS")
    if at < 0 or len(tail) - at < 27:
        return True
    n_segments = tail[at + 26]
    table = tail[at + 27:at + 27 + n_segments]
    end = at + 27 + n_segments + sum(table)
    if len(table) < n_segments or end > len(tail):
        return True  # the last page is incomplete
    return not tail[at + 5] & 0x04


def _id3v2_size(head: bytes) -> int:
    """Bytes taken by an ID3v2 tag at the start of a file (0 if none)."""
    if head[:3] != b"ID3" or len(head) < 10:
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # syncsafe integer
    return 10 + size + (10 if head[5] & 0x10 else 0)  # footer flag


def mp3_has_length_header(path: Path) -> bool:
    """True if an MP3's first frame is a Xing/Info (LAME) or VBRI header.

    Without one, libsndfile's MP3 decoder (mpg123) takes its length from a guess based on the
    first frame's bit rate and stops decoding there: a variable bit rate file then loses
    whatever lies past the guess. FFmpeg decodes such files to their end.
    """
    with open(path, "rb") as fh:
        head = fh.read(10)
        fh.seek(_id3v2_size(head))
        data = fh.read(1 << 14)
    for at in range(len(data) - 1):
        if data[at] == 0xFF and data[at + 1] & 0xE0 == 0xE0:  # frame sync
            frame = data[at:at + 200]  # the tag sits after the side info, within 40 bytes
            return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))
    return False


def mp4_missing_index(path: Path) -> bool:
    """True if an MP4/M4A file holds audio data ('mdat') but no index ('moov').

    Most encoders write the index after the audio, so a file cut off while being written or
    copied keeps its audio but loses the index, without which nothing can be decoded.
    """
    size = path.stat().st_size
    kinds = set()
    with open(path, "rb") as fh:
        pos = 0
        while pos + 8 <= size and len(kinds) < MAX_CHUNKS:
            fh.seek(pos)
            head = fh.read(16)
            box_size, kind = struct.unpack(">I4s", head[:8])
            if box_size == 1 and len(head) == 16:  # 64-bit size follows
                box_size = struct.unpack(">Q", head[8:])[0]
            elif box_size == 0:  # runs to the end of the file
                box_size = size - pos
            if box_size < 8:
                return False  # not an MP4 box layout
            kinds.add(kind)
            pos += box_size
    return b"mdat" in kinds and b"moov" not in kinds
