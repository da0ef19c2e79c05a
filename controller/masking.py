"""Secret values out of text: one way, for run logs, state files, versions and delivery errors.

A log is masked as it is written, before it is cut to its head and tail, so a cut can never
leave half of a secret standing; a value split across two writes is caught by holding back
the last `longest - 1` bytes until the next write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MASK = "****"


def ordered(values: Iterable[str]) -> list[str]:
    """Distinct non-blank values, longest first (so a value inside another goes second)."""
    return sorted({v for v in values if v and v.strip()}, key=len, reverse=True)


def secret_strings(values: Iterable[object]) -> list[str]:
    """The strings among `values` to mask with: distinct, non-blank, longest first."""
    return ordered(v for v in values if isinstance(v, str))


def mask(text: str, secrets: Iterable[str]) -> str:
    for value in ordered(secrets):
        text = text.replace(value, MASK)
    return text


def mask_bytes(data: bytes, secrets: Iterable[str]) -> bytes:
    for value in ordered(secrets):
        data = data.replace(value.encode(), MASK.encode())
    return data


def mask_files(files: Mapping[str, bytes], secrets: Iterable[str]) -> dict[str, bytes]:
    """Files ({path: content}) with every secret value replaced by `****`."""
    values = ordered(secrets)
    return {path: mask_bytes(data, values) for path, data in files.items()}


class StreamMasker:
    """Masks a byte stream chunk by chunk; `feed` returns what is safe to keep."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.values = [v.encode() for v in ordered(secrets)]
        self.hold = max((len(v) for v in self.values), default=1) - 1
        self.pending = b""

    def _mask(self, data: bytes) -> bytes:
        for value in self.values:
            data = data.replace(value, MASK.encode())
        return data

    def feed(self, data: bytes) -> bytes:
        if not self.values:
            return data
        masked = self._mask(self.pending + data)
        # a value not yet complete starts within the last `hold` bytes: keep them back
        cut = max(len(masked) - self.hold, 0)
        self.pending = masked[cut:]
        return masked[:cut]

    def flush(self) -> bytes:
        out, self.pending = self._mask(self.pending), b""
        return out
