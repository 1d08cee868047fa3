"""Run one broker process: ``python -m fluxlab.broker``.

Bootstrap information comes from the environment (set by ``fluxlab start`` or
another launcher):

``FLUXLAB_BOOTSTRAP``  ``ipc://`` URI of the launcher's bootstrap service
``FLUXLAB_RANK``, ``FLUXLAB_SIZE``  this broker's rank and the instance size
``FLUXLAB_BROKER_CONFIG``  JSON with the remaining :class:`BrokerConfig` fields
"""

from __future__ import annotations

import json
import os
import sys

from fluxlab.broker.process import broker_main

if __name__ == "__main__":
    cfg = json.loads(os.environ.get("FLUXLAB_BROKER_CONFIG", "{}"))
    sys.exit(
        broker_main(
            int(os.environ["FLUXLAB_RANK"]),
            int(os.environ["FLUXLAB_SIZE"]),
            os.environ["FLUXLAB_BOOTSTRAP"],
            cfg,
        )
    )
