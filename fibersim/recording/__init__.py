"""Recording stage: PRODML files written block by block, DAS files of any format read back.

One data model (``RecordingInfo``, rows of (time, channel) samples) and thin adapters around
it: ``ProdmlWriter``/``ProdmlReader`` (h5py), ``DascoreReader`` (every format DASCore reads),
``RecordingSpec`` (a recording as a signal source). The offline recorder, the AMQP tap and
replay live in ``offline``, ``tap`` and ``replay``; they are not imported here because they
depend on the runner, which depends on ``fibersim.signals``, which imports ``RecordingSpec``.
"""

from fibersim.recording.model import Gap, RecordingInfo, format_iso_ns, parse_iso_ns
from fibersim.recording.prodml import ProdmlReader, ProdmlWriter, is_prodml
from fibersim.recording.reader import DascoreReader, RecordingReader, open_recording
from fibersim.recording.source import RecordingSource, RecordingSpec

__all__ = [
    "DascoreReader",
    "Gap",
    "ProdmlReader",
    "ProdmlWriter",
    "RecordingInfo",
    "RecordingReader",
    "RecordingSource",
    "RecordingSpec",
    "format_iso_ns",
    "is_prodml",
    "open_recording",
    "parse_iso_ns",
]
