"Shared fixtures: the sample of real photos (read-only) and a writable copy of it."
import os, shutil
from pathlib import Path

import pytest

_DEFAULT_SAMPLE = Path(__file__).resolve().parents[1]/'..'/'shared'/'data'/'dogscats'

@pytest.fixture(scope='session')
def sample_path() -> Path:
    "The shared Dogs vs Cats sample: `$CATDOG_SAMPLE`, else ../shared/data/dogscats. Never write into it."
    p = Path(os.environ.get('CATDOG_SAMPLE') or _DEFAULT_SAMPLE).resolve()
    if not (p/'train').is_dir(): pytest.skip(f'sample photos not found at {p} (set CATDOG_SAMPLE)')
    return p

@pytest.fixture
def sample_copy(sample_path, tmp_path) -> Path:
    "A writable copy of the sample in a temp dir (for tests that write models or caches)."
    dst = tmp_path/'dogscats'
    shutil.copytree(sample_path, dst)
    return dst
