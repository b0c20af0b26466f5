"""Test-wide settings.

The tests compare runs bit for bit (resume, processes, seeds), which holds for a fixed thread
count: fix it to what torch picks on this machine, so the fair share of wsgm.cpu (which
follows the other wsgm jobs running here) cannot change it between two runs of a test.
"""

from __future__ import annotations

import os

import torch

os.environ.setdefault("WSGM_THREADS", str(torch.get_num_threads()))
