"""Suite-wide: the workspace (dashboard.workspace) of every test and test server lives in a
temporary folder, never in the user's data folder."""

from __future__ import annotations

import os
import tempfile

_DATA_HOME = tempfile.mkdtemp(prefix="infusion-outcomes-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME
os.environ.pop("INFUSION_OUTCOMES_DB", None)
