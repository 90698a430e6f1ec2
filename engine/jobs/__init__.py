"""The job service (no Qt): what the command line, the desktop app and the local server
share to run separations.

- ``Request``: one song (or a range of it), model, device, outputs and format, checked
  once when made;
- ``ModelCache``: loaded models by (model, device, options), closed when evicted;
- ``StemCache``: kept separations, under a root folder the caller passes in;
- ``JobRunner``: jobs with ids, a ``JobState``, progress and chunk events, cancel, and the
  engine's typed errors.
"""

from .models import ModelCache
from .request import Request
from .runner import Job, JobEvent, JobRunner, JobState
from .stem_cache import StemCache

__all__ = ["Request", "ModelCache", "StemCache", "JobRunner", "Job", "JobEvent", "JobState"]
