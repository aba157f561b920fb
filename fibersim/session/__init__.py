"""Session layer: what the ``fibersim`` commands, the pytest plugin and the bench share,
below the command line and above the stages (docs/architecture.md).

``stream`` publishes the fibers of one plan (``StreamSession``) and splits a plan over worker
processes, ``scenario`` runs scenario files with their reports (``ScenarioSession``),
``fleet`` chooses the fibers a process publishes, ``workers`` runs shares of the work in
processes of its own, ``stats`` and ``series`` summarise a streaming run, ``addresses`` says
where metrics are served, and ``tuning`` holds the process-wide settings an entry point opts
into (the sessions take that choice as an argument). The broker is
described by ``fibersim.transport.BrokerSettings``, opened with
``fibersim.dialects.open_broker``. The CLI parses options into these and maps errors to exit
codes; nothing here prints or exits.
"""
