"""`make run` / `make test` install the package into the environment, editable: `import analysis`
works from any folder and resolves to this working tree (a saved snippet runs anywhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_is_installed_editable_from_this_tree():
    # the environment's record (the tree's own infusion_outcomes.egg-info is on sys.path too)
    site = sysconfig.get_paths()["purelib"]
    distribution = next(metadata.distributions(name="infusion-outcomes", path=[site]))
    direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    assert direct_url.get("dir_info", {}).get("editable") is True, direct_url
    assert Path(direct_url["url"].removeprefix("file://")).resolve() == ROOT


def test_analysis_imports_from_another_folder_without_pythonpath(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import analysis, dashboard.calls; print(analysis.__file__); print(analysis.load_sample().n_patients)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    path, patients = done.stdout.split()
    assert Path(path).resolve() == ROOT / "analysis" / "__init__.py"
    assert int(patients) > 0  # the bundled sample is found from the installed package
