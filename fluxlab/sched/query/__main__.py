"""``python -m fluxlab.sched.query``: run the resource-query tool."""

import sys

from fluxlab.sched.query.tool import main

sys.exit(main())
