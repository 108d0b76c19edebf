"""docjobs: run any registered document endpoint as a background job.

Handlers import only `report_progress` from here; the rest of the package is the service itself.
"""

from jobs.progress import report_progress

__all__ = ["report_progress"]
