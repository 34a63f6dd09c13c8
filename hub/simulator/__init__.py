"""A loopback double of the Cloud API messages endpoint: ``hub sandbox``, tests and benchmarks.

It accepts the request shapes Meta accepts for the messages the hub sends and rejects others with
Meta's error bodies, enforces the 24-hour window, the pair rate, the number's throughput and a
messaging limit, injects faults on demand, plays phones that write in and answer with signed
status webhooks, and logs every accepted message.
"""

from hub.simulator.app import AcceptedMessage, Simulator, SimulatorConfig, SimulatorServer
from hub.simulator.faults import Fault, Latency
from hub.simulator.shapes import TemplateSpec

__all__ = ["AcceptedMessage", "Fault", "Latency", "Simulator", "SimulatorConfig", "SimulatorServer",
           "TemplateSpec"]
