"""fibersim: a simulated DAS interrogator streaming over AMQP, and the tools to drive a Focus
Server through every state of the "waiting for fiber" incident.

Data flows one way through the subpackages:
scenario -> runner (virtual clock) -> interrogator -> signals -> wire -> transport ->
focus (mock or real) <- probes -> reports.
"""

__version__ = "0.1.0"
