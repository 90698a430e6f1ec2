"""The content cache alone: keys that change with every setting that changes the files, whole
entries or none, least recently used entries removed past the size cap."""

from __future__ import annotations

from dataclasses import replace

from engine import resolve_model
from engine.server.cache import ContentCache, content_key

SETTINGS = {"options": {}, "start": 1.0, "end": 2.0, "stems": None, "format": "wav",
            "bit_depth": "32f"}


def finished(cache: ContentCache, job_id: str, n_bytes: int) -> dict:
    folder = cache.work_folder(job_id)
    (folder / "vocals.wav").write_bytes(b"x" * n_bytes)
    return {"vocals": folder / "vocals.wav"}


def test_every_setting_and_the_weights_are_in_the_key():
    model = resolve_model("classic")
    key = content_key("a" * 64, model, SETTINGS)
    assert key == content_key("a" * 64, model, dict(SETTINGS))
    changed = [content_key("b" * 64, model, SETTINGS),
               content_key("a" * 64, replace(model, params={"n_fft": 1}), SETTINGS)]
    changed += [content_key("a" * 64, model, {**SETTINGS, name: value}) for name, value in
                [("start", 1.5), ("end", None), ("stems", ["vocals"]), ("format", "flac"),
                 ("bit_depth", "16"), ("options", {"refine": False})]]
    assert len({key, *changed}) == len(changed) + 1


def test_least_recently_used_entries_go_past_the_cap(tmp_path):
    cache = ContentCache(tmp_path, max_bytes=2500)
    kept = {k: cache.store(k, k, finished(cache, k, 1000)) for k in ("a", "b")}
    assert kept["a"]["vocals"].read_bytes() == b"x" * 1000
    assert not list(cache.work_dir.iterdir())  # moved whole into the entry
    assert cache.lookup("a") is not None  # a is now more recent than b
    cache.store("c", "c", finished(cache, "c", 1000))
    assert cache.lookup("b") is None and not kept["b"]["vocals"].exists()
    assert cache.lookup("a") is not None and cache.lookup("c") is not None
    assert cache.size == 2000
    again = ContentCache(tmp_path, max_bytes=2500)  # a restarted server finds its entries
    assert again.lookup("a") == kept["a"] and again.size == 2000


def test_a_killed_servers_work_is_removed_on_start(tmp_path):
    cache = ContentCache(tmp_path, max_bytes=1 << 20)
    finished(cache, "job", 10)
    ContentCache(tmp_path, max_bytes=1 << 20)
    assert not list((tmp_path / "work").iterdir())
