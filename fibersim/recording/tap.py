"""The tap: record one fiber of a live fibersim stream from RabbitMQ into a PRODML file.

It learns prr, dx, channel count and gauge length from the stream's metadata messages, so it
writes nothing until the first metadata has arrived (at most one metadata period, 2 s, after
it subscribes). Rows are placed by each block's ``first_sample_index``: a jump forward (lost
or skipped blocks, a disconnect, zero PRR) becomes a gap in the file, marked as described in
docs/recording.md; a block from the past (duplicate, or reordered after its gap was marked)
is dropped and counted. A change of prr, dx or channel count ends the recording, because a
PRODML raw part has one sampling.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fibersim.dialects import Dialect, load_dialect
from fibersim.formats.model import Compression, RecordingInfo
from fibersim.formats.prodml import ProdmlWriter
from fibersim.models import FiberConfig, FiberMetadata, SampleDtype
from fibersim.transport import Delivery, Transport
from fibersim.wire import DataBlock, MetadataMessage, WireFormatError, quantize_int16


@dataclass
class TapStats:
    """What the tap saw, for progress lines and the summary."""

    blocks: int = 0
    rows: int = 0
    gaps: int = 0
    gap_rows: int = 0
    missing_sequences: int = 0
    stale_blocks: int = 0
    malformed: int = 0
    blocks_before_metadata: int = 0
    stop_reason: str = ""


class Tap:
    """Subscribes to one fiber (in the ``dialect``'s topology, by default ``das.<fiber_id>.*``)
    and writes ``duration_s`` of stream time to ``path``."""

    def __init__(self, transport: Transport, fiber_id: str, path: str | Path, *,
                 duration_s: float, dtype: SampleDtype | None = None,
                 compression: Compression = None,
                 dialect: Dialect | None = None) -> None:
        self.transport = transport
        self.fiber_id = fiber_id
        self.path = path
        self.duration_s = duration_s
        self.dtype = dtype
        self.compression = compression
        self.dialect = dialect or load_dialect()
        self.stats = TapStats()
        self.done = asyncio.Event()
        self.writer: ProdmlWriter | None = None
        self._metadata: MetadataMessage | None = None
        self._origin_index = 0
        self._rows_wanted = 0
        self._last_sequence: int | None = None

    async def start(self) -> None:
        """Subscribe; the transport must be connected."""
        await self.transport.subscribe(self.dialect.binding_keys(self.fiber_id), self._deliver)

    async def record(self) -> TapStats:
        """Subscribe and wait until the duration is recorded (or the fiber is reconfigured)."""
        await self.start()
        await self.done.wait()
        return self.stats

    @property
    def info(self) -> RecordingInfo | None:
        """The file being written, once the first block has arrived."""
        return None if self.writer is None else self.writer.info

    def progress_text(self) -> str:
        """The live progress line: stream time recorded, blocks and gaps."""
        info, stats = self.info, self.stats
        if info is None:
            return "waiting for metadata and data ..."
        return (f"t={stats.rows / info.prr:8.1f} s of {self.duration_s:g} s"
                f"  blocks={stats.blocks:7d}  gaps={stats.gaps}")

    def summary_text(self, elapsed_s: float) -> str:
        """The closing line: what was written (or why nothing was), gaps and drops."""
        info, stats = self.info, self.stats
        if info is None:
            return (f"summary: nothing recorded in {elapsed_s:.1f} s"
                    f" ({stats.blocks_before_metadata} data blocks arrived before any"
                    " metadata); no file written")
        size_mb = Path(self.path).stat().st_size / 1e6
        return (f"summary: wrote {self.path}: {stats.rows} samples x {info.n_channels} channels"
                f" ({stats.rows / info.prr:g} s at {info.prr:g} Hz, dx {info.dx:g} m),"
                f" {info.dtype}, {size_mb:.1f} MB; {stats.blocks} blocks, {stats.gaps} gaps"
                f" ({stats.gap_rows} samples, {stats.missing_sequences} missing blocks),"
                f" {stats.stale_blocks} duplicate/late and {stats.malformed} malformed blocks"
                f" dropped; {stats.stop_reason or 'interrupted'}")

    def close(self) -> None:
        """Finish the file (safe to call twice, and before anything was written)."""
        if self.writer is not None:
            self.writer.close()

    async def _deliver(self, delivery: Delivery) -> None:
        if self.done.is_set():
            return
        try:
            message = self.dialect.decode(delivery.envelope)
        except WireFormatError:
            self.stats.malformed += 1
            return
        if isinstance(message, MetadataMessage):
            self._on_metadata(message)
        elif isinstance(message, DataBlock):
            self._on_block(message)

    def _on_metadata(self, message: MetadataMessage) -> None:
        if not message.metadata.is_ready:  # zero PRR: no data until it is restored
            return
        previous = self._metadata
        if (self.writer is not None and previous is not None
                and _sampling(message.metadata) != _sampling(previous.metadata)):
            self._finish("the fiber was reconfigured (prr, dx or channel count changed)")
            return
        self._metadata = message

    def _on_block(self, block: DataBlock) -> None:
        if self._metadata is None:
            self.stats.blocks_before_metadata += 1
            return
        if self.writer is None:
            self._open(block, self._metadata)
        writer = self.writer
        assert writer is not None
        if block.n_channels != writer.info.n_channels or block.channel_start != 0:
            self.stats.malformed += 1
            return
        expected = self._origin_index + writer.rows
        if block.first_sample_index < expected:
            self.stats.stale_blocks += 1
            return
        if self._last_sequence is not None and block.sequence > self._last_sequence + 1:
            self.stats.missing_sequences += block.sequence - self._last_sequence - 1
        self._last_sequence = block.sequence
        missing = block.first_sample_index - expected
        if missing:
            writer.skip(min(missing, self._rows_wanted - writer.rows))
            self.stats.gaps += 1
            self.stats.gap_rows = writer.gap_rows
        take = min(block.n_samples, self._rows_wanted - writer.rows)
        if take > 0:
            writer.append(_stored(block, writer.info)[:take])
            self.stats.blocks += 1
        self.stats.rows = writer.rows
        if writer.rows >= self._rows_wanted:
            self._finish(f"{self.duration_s:g} s recorded")

    def _open(self, block: DataBlock, message: MetadataMessage) -> None:
        metadata = message.metadata
        dtype: SampleDtype = self.dtype or ("int16" if block.samples.dtype == np.int16
                                            else "float32")
        info = RecordingInfo(
            prr=block.sample_rate_hz,
            dx=metadata.dx,
            n_channels=metadata.number_of_channels,
            start_time_ns=block.first_sample_time_ns,
            dtype=dtype,
            scale=(block.scale if block.samples.dtype == np.int16
                   else message.int16_scale or FiberConfig().int16_scale)
            if dtype == "int16" else 1.0,
            gauge_length_meters=metadata.gauge_length_meters,
            fiber_start_meters=metadata.fiber_start_meters or 0.0,
            description=f"{self.fiber_id}: {metadata.fiber_description}",
        )
        self.writer = ProdmlWriter(self.path, info, self.compression)
        self._origin_index = block.first_sample_index
        self._rows_wanted = max(1, round(self.duration_s * info.prr))

    def _finish(self, reason: str) -> None:
        self.stats.stop_reason = reason
        self.done.set()


def _stored(block: DataBlock, info: RecordingInfo) -> np.ndarray:
    """The block's samples in the file's dtype and scale."""
    if info.dtype == "float32":
        return block.strain_rate()
    if block.samples.dtype == np.int16 and block.scale == info.scale:
        return block.samples
    return quantize_int16(block.strain_rate().copy(), info.scale)


def _sampling(metadata: FiberMetadata) -> tuple[float, float, int]:
    """What must stay constant within one PRODML raw part."""
    return metadata.prr, metadata.dx, metadata.number_of_channels
