"""Session layer: what the ``fibersim`` commands, the pytest plugin and the bench share,
below the command line and above the stages (docs/architecture.md).

``fleet`` chooses the fibers a process publishes, ``workers`` runs shares of the work in
processes of its own, ``stats`` summarises a streaming run, and ``tuning`` holds the
process-wide settings a publishing program opts into. The broker is
described by ``fibersim.transport.BrokerSettings``, opened with
``fibersim.dialects.open_broker``. The CLI parses options into these and maps errors to exit
codes; nothing here prints or exits.
"""
