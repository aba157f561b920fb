"""Recording stage: a scenario's fiber rendered to a file (``offline``), a live stream tapped
to one (``tap``), and a file played back on the wire (``replay``).

It sits above the runner and the transport, which it drives; the file formats it writes and
reads are ``fibersim.formats``, and a recording played as a scenario signal is
``fibersim.signals.recorded``. Import the modules themselves: each pulls in different stages.
"""
