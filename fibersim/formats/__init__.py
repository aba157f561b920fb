"""DAS file formats: PRODML files written block by block, DAS files of any format read back.

One data model (``RecordingInfo``, rows of (time, channel) samples) and thin adapters around
it: ``ProdmlWriter``/``ProdmlReader`` (h5py), ``DascoreReader`` (every format DASCore reads).
A stage of its own, below ``signals`` (a recording is a signal source) and ``recording``
(which writes what it renders or taps); it depends on nothing of fibersim but the models.
h5py and DASCore are imported when a file is opened, so commands that never touch a file
(``run``, ``stream``) do not load them.
"""

from fibersim.formats.model import Gap, RecordingInfo, format_iso_ns, parse_iso_ns
from fibersim.formats.prodml import ProdmlReader, ProdmlWriter, is_prodml
from fibersim.formats.reader import DascoreReader, RecordingReader, open_recording

__all__ = [
    "DascoreReader",
    "Gap",
    "ProdmlReader",
    "ProdmlWriter",
    "RecordingInfo",
    "RecordingReader",
    "format_iso_ns",
    "is_prodml",
    "open_recording",
    "parse_iso_ns",
]
