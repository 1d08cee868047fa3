"""One broker of an instance: overlay tree, routing, services, life-cycle.

See ``docs/spec/broker.md``.
"""

from fluxlab.broker.broker import Broker
from fluxlab.broker.config import DEFAULT_MODULES, BrokerConfig
from fluxlab.broker.state import BrokerState
from fluxlab.broker.topology import Topology

__all__ = ["DEFAULT_MODULES", "Broker", "BrokerConfig", "BrokerState", "Topology"]
