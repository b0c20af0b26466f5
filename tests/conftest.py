"""Test-wide settings.

The tests compare runs bit for bit (resume, processes, seeds), which holds for a fixed thread
count. wsgm's default thread count is a fair share of the cores among the wsgm jobs running
on the machine (wsgm.cpu); the tests count only their own jobs, in a private registry, so
other wsgm jobs on a shared machine cannot change the count between two runs of a test.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("WSGM_JOBS_DIR", tempfile.mkdtemp(prefix="wsgm-test-jobs-"))
