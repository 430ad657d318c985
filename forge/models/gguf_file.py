"""What a GGUF file says about its model, read from its header without loading any weights.

    info = read_gguf_info(Path("qwen2.5-1.5b-instruct-q4_k_m.gguf"))
    info.context_length, info.architecture, info.quantisation, info.parameters, info.chat_template

A GGUF file starts with key/value metadata, then one entry per tensor (name, shape, type), then the
weights. This reads the first two parts only. It is our own reader rather than the `gguf` package's
`GGUFReader` because that one turns every vocabulary entry into numpy arrays: seconds for a 150k-token
vocabulary, where we want a dozen keys (format: github.com/ggml-org/ggml/blob/master/docs/gguf.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from forge.errors import ConfigError

MAGIC = b"GGUF"

# Value types of the metadata: scalar formats for struct, 8 = string, 9 = array.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
ARRAY_KEEP = 16  # arrays longer than this (vocabularies, merges) are skipped, only their length kept

# llama.cpp's `llama_ftype` (general.file_type): the quantisation a file was made with.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
    36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}


class GGUFError(ConfigError):
    """The file is not a readable GGUF model."""


@dataclass
class GGUFInfo:
    path: Path
    version: int
    metadata: dict[str, Any]  # long arrays appear as {"array_of": N}
    tensor_count: int
    parameters: int  # summed over the tensors of this file (a split model's first part holds only some)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def _arch_key(self, key: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def context_length(self) -> int | None:
        value = self._arch_key("context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    @property
    def quantisation(self) -> str | None:
        value = self.metadata.get("general.file_type")
        if not isinstance(value, int):
            return None
        return FILE_TYPES.get(value, f"file type {value}")

    @property
    def name(self) -> str | None:
        value = self.metadata.get("general.name")
        return value if isinstance(value, str) else None

    @property
    def licence(self) -> str | None:
        value = self.metadata.get("general.license")
        return value if isinstance(value, str) else None

    @property
    def size_label(self) -> str | None:
        """The publisher's own count ("1.5B"), when the file carries it."""
        value = self.metadata.get("general.size_label")
        return value if isinstance(value, str) else None

    @property
    def split_count(self) -> int:
        value = self.metadata.get("split.count")
        return int(value) if isinstance(value, int) else 1

    def summary(self) -> dict[str, Any]:
        """The fields `autogpt models info` shows."""
        return {
            "architecture": self.architecture,
            "name": self.name,
            "parameters": self.size_label or (human_count(self.parameters) if self.split_count == 1 else None),
            "quantisation": self.quantisation,
            "context_length": self.context_length,
            "licence": self.licence,
            "chat_template": self.chat_template,
            "gguf_version": self.version,
            "tensors": self.tensor_count,
        }


def human_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


@dataclass
class _Reader:
    f: BinaryIO
    path: Path
    counts: dict[str, int] = field(default_factory=dict)

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise GGUFError(f"{self.path} is truncated (its GGUF header ends early); pull or copy it again")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.unpack("<Q")).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        self.f.seek(self.unpack("<Q"), 1)

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.unpack("<I"), self.unpack("<Q")
            if count <= ARRAY_KEEP:
                return [self.value(item_kind) for _ in range(count)]
            self.skip_array(item_kind, count)
            return {"array_of": count}
        raise GGUFError(f"{self.path}: unknown GGUF value type {kind}; is it a GGUF file from a newer llama.cpp?")

    def skip_array(self, item_kind: int, count: int) -> None:
        if item_kind in _SCALARS:
            self.f.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
        elif item_kind == _STRING:
            for _ in range(count):  # each string has its own length: no way around reading them
                self.skip_string()
        else:
            for _ in range(count):
                self.value(item_kind)


def read_gguf_info(path: Path) -> GGUFInfo:
    """The header of a GGUF file. Raises GGUFError (a ConfigError) for anything else."""
    try:
        with open(path, "rb", buffering=1 << 20) as f:
            r = _Reader(f, path)
            if f.read(4) != MAGIC:
                raise GGUFError(f"{path} is not a GGUF model file; llama.cpp runs .gguf files only")
            version = r.unpack("<I")
            wide = "<Q" if version >= 2 else "<I"
            tensor_count, kv_count = r.unpack(wide), r.unpack(wide)
            metadata: dict[str, Any] = {}
            for _ in range(kv_count):
                key = r.string()
                metadata[key] = r.value(r.unpack("<I"))
            parameters = 0
            for _ in range(tensor_count):
                r.skip_string()
                dims = [r.unpack(wide) for _ in range(r.unpack("<I"))]
                r.take(12)  # tensor type (u32) and data offset (u64)
                count = 1
                for d in dims:
                    count *= d
                parameters += count
    except OSError as e:
        raise GGUFError(f"cannot read {path}: {e.strerror or e}") from None
    return GGUFInfo(path=path, version=version, metadata=metadata, tensor_count=tensor_count, parameters=parameters)
