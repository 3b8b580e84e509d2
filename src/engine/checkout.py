"""Where the parts of this checkout are, for the engine the host's python3 runs from it.

Importing this puts the checkout's src/python on sys.path, so `import pods_contract` finds
the one module that defines the formats host and images share (labels, lock schema,
excluded components, hashing). Every engine module that needs the contract imports this
first.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
_CONTRACT_DIR = str(ROOT / "src" / "python")
if _CONTRACT_DIR not in sys.path:
    sys.path.insert(0, _CONTRACT_DIR)
