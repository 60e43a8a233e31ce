"""Makes the renderer tests' helper module (fax_render_support) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
