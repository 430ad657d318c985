"""Read-only check of the HNSW index files Chroma persists for a collection's vector segment.

Chroma (1.x, chroma-hnswlib) keeps each vector segment in `<memory_dir>/<segment id>/`:

    header.bin             100 bytes: format version, sizes, element count, entry point, M ...
    data_level0.bin        one fixed-size record per element: level-0 neighbour list, vector, label
    length.bin             one float per element
    link_lists.bin         per element: u32 byte size, then its upper-level neighbour lists
    index_metadata.pickle  the id map (user id <-> label), written after the four files above

Chroma rewrites these in place, with no fsync and no atomic rename, every `sync_threshold` adds.
A process killed during that write leaves a header, records and id map from different moments,
and hnswlib trusts what it reads: a torn index can crash the process (SIGSEGV) on load or search.
So before Chroma loads a segment, `check_segment` verifies the structure hnswlib relies on
(sizes, neighbour ids in range, list counts) and that the id map names exactly the live labels
of the index (the map is written last, so a torn write leaves them different). It only reads.
"""

from __future__ import annotations

import mmap
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
ID_MAP = "index_metadata.pickle"
HEADER_SIZE = 100
# version, offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset,
# offsetData, maxlevel, enterpoint_node, maxM, maxM0, M, mult, ef_construction (hnswalg.h HEADER_FIELDS)
HEADER = struct.Struct("<iQQQQQQiIQQQdQ")
DELETE_MARK = 0x01
MAX_LEVEL = 64  # mult = 1/ln(M): level 64 would need ~16**64 elements


class SegmentDamage(Exception):
    """The segment's files are not a consistent HNSW index; the message says which part."""


@dataclass
class SegmentInfo:
    elements: int  # records in the index, deleted ones included
    live: int  # ids in the id map


class _NoGlobals(pickle.Unpickler):
    """The id map is plain dicts, ints and strings: refuse anything that would import or call."""

    def find_class(self, module: str, name: str) -> Any:
        raise SegmentDamage(f"{ID_MAP} refers to {module}.{name}")


def has_index(folder: Path) -> bool:
    """True when Chroma would load this segment from disk (it ignores the files without an id map)."""
    return (folder / ID_MAP).exists()


def read_id_map(folder: Path) -> dict[str, Any]:
    path = folder / ID_MAP
    try:
        with open(path, "rb") as f:
            data = _NoGlobals(f).load()
    except SegmentDamage:
        raise
    except OSError:
        raise
    except Exception as e:  # truncated or garbled pickles raise many different types
        raise SegmentDamage(f"{ID_MAP} is unreadable ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise SegmentDamage(f"{ID_MAP} is not an id map")
    return data


def _check_size(path: Path, need: int) -> int:
    if not path.is_file():
        raise SegmentDamage(f"{path.name} is missing or not a file")
    size = path.stat().st_size
    if size < need:
        raise SegmentDamage(f"{path.name} is truncated ({size} bytes, at least {need} expected)")
    return size


def _map_file(path: Path, need: int) -> mmap.mmap | bytes:
    """The file's bytes (mapped, so a huge sparse file costs nothing); SegmentDamage if shorter than `need`."""
    if _check_size(path, need) == 0:
        return b""
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def check_segment(folder: Path, dim: int | None) -> SegmentInfo:
    """Raise SegmentDamage unless `folder` holds an index hnswlib can load and search safely.

    Raises OSError when a file cannot be read (permissions): that is not damage.
    """
    import numpy as np

    id_map = read_id_map(folder)
    label_to_id = id_map.get("label_to_id")
    id_to_label = id_map.get("id_to_label")
    if not isinstance(label_to_id, dict) or not isinstance(id_to_label, dict):
        raise SegmentDamage(f"{ID_MAP} lacks its id tables")
    if not id_to_label:
        return SegmentInfo(elements=0, live=0)  # Chroma treats an empty map as a new index

    header = folder / "header.bin"
    if not header.is_file():
        raise SegmentDamage("header.bin is missing or not a file")
    raw = header.read_bytes()
    if len(raw) != HEADER_SIZE:
        raise SegmentDamage(f"header.bin has {len(raw)} bytes, not {HEADER_SIZE}")
    (version, offset_level0, max_elements, count, size_per_element, label_offset, offset_data, max_level,
     entry_point, max_m, max_m0, m, _mult, _ef) = HEADER.unpack(raw)
    links0 = max_m0 * 4 + 4
    if version != 1 or offset_level0 != 0 or not 2 <= m <= 4096 or max_m != m or max_m0 != 2 * m:
        raise SegmentDamage("header.bin is garbled")
    data_size = label_offset - offset_data
    if offset_data != links0 or data_size <= 0 or data_size % 4 or size_per_element != label_offset + 8:
        raise SegmentDamage("header.bin is garbled")
    if dim is not None and data_size != dim * 4:
        raise SegmentDamage(f"header.bin says dimension {data_size // 4}, the collection {dim}")
    if not count <= max_elements < 2**32 or not -1 <= max_level <= MAX_LEVEL:
        raise SegmentDamage("header.bin is garbled")
    if count and (entry_point >= count or max_level < 0):
        raise SegmentDamage("header.bin is garbled (entry point)")

    level0 = _map_file(folder / "data_level0.bin", count * size_per_element)
    _check_size(folder / "length.bin", count * 4)
    records = np.frombuffer(level0, dtype=np.uint8, count=count * size_per_element).reshape(count, size_per_element)
    sizes = records[:, 0:2].copy().view("<u2")[:, 0]
    if (sizes > max_m0).any():
        raise SegmentDamage("data_level0.bin is garbled (neighbour list too long)")
    neighbours = records[:, 4:links0].copy().view("<u4")
    used = np.arange(max_m0)[None, :] < sizes[:, None]
    if (neighbours[used] >= count).any():
        raise SegmentDamage("data_level0.bin is garbled (neighbour out of range)")
    deleted = (records[:, 2] & DELETE_MARK).astype(bool)
    labels = records[:, label_offset : label_offset + 8].copy().view("<u8")[:, 0]
    _check_upper_levels(folder / "link_lists.bin", count, max_m, max_level, entry_point)

    # The id map is written after the index files: the same live labels on both sides means no
    # write was cut short between them.
    live = labels[~deleted]
    try:
        mapped = np.fromiter((int(k) for k in label_to_id), dtype=np.uint64, count=len(label_to_id))
    except (TypeError, ValueError, OverflowError):
        raise SegmentDamage(f"{ID_MAP} is garbled") from None
    if len(id_to_label) != len(label_to_id) or len(np.unique(live)) != len(live):
        raise SegmentDamage("the index files and the id map disagree")
    if len(live) != len(mapped) or not np.array_equal(np.sort(live), np.sort(mapped)):
        raise SegmentDamage("the index files and the id map disagree")
    return SegmentInfo(elements=count, live=len(mapped))


def _check_upper_levels(path: Path, count: int, max_m: int, max_level: int, entry_point: int) -> None:
    """link_lists.bin is read sequentially by hnswlib: every size must fit and every id be in range.

    Per element: a u32 byte size (0 for the ~15/16 of elements that live on level 0 only), then that
    many bytes of lists. Sizes are multiples of 4, so the file is read as u32 words and the walk
    jumps from one non-zero size to the next instead of stepping through every element.
    """
    import numpy as np

    data = _map_file(path, count * 4)
    block = max_m + 1  # words per level: count word, then max_m ids
    # Never look past what `count` elements at most `max_level` levels can use (a torn file may be huge and sparse).
    words = np.frombuffer(data, dtype="<u4", count=min(len(data) // 4, count * (1 + max(max_level, 0) * block)))
    nonzero = np.flatnonzero(words)
    element, pos = 0, 0  # element index, and the word where its size is
    blocks = []
    while element < count:
        nxt = int(np.searchsorted(nonzero, pos))
        at = int(nonzero[nxt]) if nxt < len(nonzero) else len(words)
        skipped = min(at - pos, count - element)  # elements on level 0 only
        if element <= entry_point < element + skipped and max_level != 0:
            raise SegmentDamage("link_lists.bin is garbled (entry point level)")
        element += skipped
        if element == count:
            break
        size = int(words[at])
        levels, rest = divmod(size, block * 4)
        if rest or levels > max_level or at + 1 + size // 4 > len(words) or (
            element == entry_point and levels != max_level
        ):
            raise SegmentDamage("link_lists.bin is garbled or truncated")
        blocks.append(words[at + 1 : at + 1 + size // 4])
        element, pos = element + 1, at + 1 + size // 4
    if not blocks:
        return
    lists = np.concatenate(blocks).reshape(-1, block)
    sizes = lists[:, 0] & 0xFFFF
    if (sizes > max_m).any():
        raise SegmentDamage("link_lists.bin is garbled (neighbour list too long)")
    used = np.arange(max_m)[None, :] < sizes[:, None]
    if (lists[:, 1:][used] >= count).any():
        raise SegmentDamage("link_lists.bin is garbled (neighbour out of range)")
