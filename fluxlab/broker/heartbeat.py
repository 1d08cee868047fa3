"""The heartbeat module: rank 0 publishes ``heartbeat.pulse`` periodically.

Other modules use the pulse as a slow clock (``sync`` of periodic work, and
``fluxlab uptime``).  The period is the ``heartbeat.period`` broker attribute
(seconds, default 2) or the module argument ``period=SECONDS``.
"""

from __future__ import annotations

from fluxlab.core.module import ServiceModule, request_handler

__all__ = ["Heartbeat"]


class Heartbeat(ServiceModule):
    name = "heartbeat"

    def start(self) -> None:
        period = 2.0
        for arg in self.args:
            key, _, value = arg.partition("=")
            if key == "period":
                try:
                    period = float(value)
                except ValueError:
                    raise ValueError(
                        f"heartbeat: period must be a number of seconds, not {value!r}"
                    ) from None
        if period <= 0:
            raise ValueError("heartbeat: period must be positive")
        self.period = period
        self.count = 0
        self.timer = self.h.reactor.call_every(period, self._pulse)

    def stop(self) -> None:
        self.timer.cancel()

    def _pulse(self) -> None:
        self.count += 1
        self.h.event_publish("heartbeat.pulse", {"count": self.count, "period": self.period})

    @request_handler("get")
    def get(self, msg):
        return {"period": self.period, "count": self.count}
