"""``python -m fluxlab`` runs the ``fluxlab`` command."""

import sys

from fluxlab.cli.main import main

sys.exit(main())
