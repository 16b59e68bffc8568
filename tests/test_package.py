"""Package-level promises: the library never pulls in the UI, and every public name resolves."""

from __future__ import annotations

import subprocess
import sys


def test_import_analysis_does_not_import_streamlit():
    code = "import sys, analysis; assert 'streamlit' not in sys.modules, 'streamlit imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_using_the_whole_api_does_not_import_streamlit():
    code = (
        "import sys, analysis\n"
        "[getattr(analysis, name) for name in analysis.__all__]\n"
        "assert 'streamlit' not in sys.modules, 'streamlit imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
