"""Starts contrib/clover_sim.py for a test: the shared Simulator plus Clover's own control
endpoint (/_sim/exports) and the base URL its clients use."""
from simulator import Simulator


class CloverSimulator(Simulator):
    def __init__(self, args=(), secret="cl0ver-t0ken", merchant="MCLOVER00001",
                 extra_merchants=None):
        """extra_merchants: {mId: Bearer token} served besides merchant."""
        super().__init__(script="clover_sim.py", args=args, secret=secret, merchant=merchant,
                         extra_merchants=extra_merchants)

    @property
    def exports_url(self):
        return self.exports_url_of(self.merchant)

    def exports_url_of(self, mid):
        return f"{self.url}/v3/merchants/{mid}/exports"

    def exports(self):
        return self._call("GET", "/_sim/exports")

    def config(self):
        return self._call("GET", "/_sim/config")
