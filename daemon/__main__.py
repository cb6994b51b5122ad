"""``python -m daemon`` runs ``gnn-registryd``."""

from __future__ import annotations

import sys

from daemon.registryd import main

sys.exit(main())
