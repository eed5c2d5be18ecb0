"""Starts contrib/clover_sim.py for a test: the shared Simulator plus Clover's own control
endpoint (/_sim/exports) and the base URL its clients use."""
from simulator import Simulator


class CloverSimulator(Simulator):
    def __init__(self, args=(), secret="cl0ver-t0ken", merchant="MCLOVER00001"):
        super().__init__(script="clover_sim.py", args=args, secret=secret, merchant=merchant)

    @property
    def exports_url(self):
        return f"{self.url}/v3/merchants/{self.merchant}/exports"

    def exports(self):
        return self._call("GET", "/_sim/exports")

    def config(self):
        return self._call("GET", "/_sim/config")
