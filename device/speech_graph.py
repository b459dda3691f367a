"""The speech model's lexicon graph mapped from its file instead of copied into the heap.

Vosk's Korean model decodes with HCLr.fst (an OpenFst `olabel_lookahead` graph: a ConstFst
of 2.07 M states and 5.83 M arcs, 134 MB of fixed-size arrays, plus 47 MB of lookahead
data) composed on the fly with the language model Gr.fst. Vosk reads both into the heap.
OpenFst can instead map a ConstFst's arrays from the file — read-only, shared, clean pages the
kernel may drop under pressure and that become resident only when the decoder touches them —
when two things hold:

* the process-wide flag `FLAGS_fst_read_mode` is "map" while the model loads (vosk's Python
  API has no option for it; `libvosk.so` exports the flag, set here with ctypes after
  checking its layout, and put back to "read" afterwards); and
* the arrays start at 16-byte offsets in the file. The shipped file is not aligned (the
  states begin at byte 145), so OpenFst warns and reads instead. `aligned_model` writes,
  once, a copy of HCLr.fst with the ConstFst's `IS_ALIGNED` flag and the zero padding that
  flag tells the reader to skip, next to symbolic links to the model's other parts.

After loading, `advise_random` tells the kernel the mapping is read at random (no
read-ahead), so only the pages the decoder touches are read and count in the resident set.
Those pages stay resident in the process once touched (they made ~110 MB of the robot's RSS by
the end of a day). `MappedGraph.release` unmaps them from the process with madvise(MADV_DONTNEED)
(the recogniser asks for it, on the graph's own thread, when an utterance is decoded): they stay
in the kernel's page cache and the next decode maps them again with minor faults (no disk read
unless the kernel dropped them under memory pressure). The mapping is read-only: nothing is lost.

Anything unexpected (another file layout, another libvosk, no room on the disk) leaves the
model as it is: read into the heap as before, logged. Measured by benchmarks/footprint.py
(docs/robot.md).
"""

import contextlib
import ctypes
import json
import logging
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

FST_MAGIC = 2125659606
ADD_ON_MAGIC = 446681434
IS_ALIGNED = 0x4  # FstHeader flag: arrays padded to ALIGNMENT in the file
ALIGNMENT = 16  # OpenFst's kArchAlignment on x86-64 and aarch64
CONST_STATE_BYTES = 20  # ConstFst state: final weight, first arc, arcs, input/output epsilons
ARC_BYTES = 16  # StdArc: ilabel, olabel, weight, next state
GRAPH = Path("graph") / "HCLr.fst"
STAMP = "aligned.json"
MADV_RANDOM = 1
MADV_DONTNEED = 4


class GraphFormatError(ValueError):
    """The graph file is not the olabel_lookahead ConstFst this module knows how to align."""


def _header(data: bytes, at: int) -> tuple[bytes, bytes, int, int, int, int, int]:
    """One FstHeader at `at`: (fst type, arc type, flags, flags offset, states, arcs, end)."""

    def string(pos: int) -> tuple[bytes, int]:
        (n,) = struct.unpack_from("<i", data, pos)
        if not 0 < n < 64:
            raise GraphFormatError(f"bad string length {n} at byte {pos}")
        return bytes(data[pos + 4 : pos + 4 + n]), pos + 4 + n

    (magic,) = struct.unpack_from("<i", data, at)
    if magic != FST_MAGIC:
        raise GraphFormatError(f"no FST header at byte {at}")
    fst_type, pos = string(at + 4)
    arc_type, pos = string(pos)
    _version, flags = struct.unpack_from("<ii", data, pos)
    flags_at = pos + 4
    _props, _start, states, arcs = struct.unpack_from("<Qqqq", data, pos + 8)
    return fst_type, arc_type, flags, flags_at, states, arcs, pos + 40


def align_graph(src: Path, dst: Path) -> int:
    """Write `src` (an unaligned olabel_lookahead HCLr.fst) to `dst` with its ConstFst arrays
    at 16-byte offsets; returns the bytes written. Raises GraphFormatError on another layout.

    Streamed in 16 MB reads (never mapped: the copy must not count in the robot's memory)."""
    size = src.stat().st_size
    with open(src, "rb") as f:
        head = f.read(4096)
        outer, _arc, _flags, _at, _s, _a, pos = _header(head, 0)
        if outer != b"olabel_lookahead":
            raise GraphFormatError(f"{src.name} is a {outer!r} FST, not olabel_lookahead")
        if struct.unpack_from("<i", head, pos)[0] != ADD_ON_MAGIC:
            raise GraphFormatError(f"{src.name}: no add-on marker after the header")
        kind, arc, flags, flags_at, states, arcs, pos = _header(head, pos + 4)
        if kind != b"const" or arc != b"standard" or flags & ~0x3:
            raise GraphFormatError(f"{src.name}: inner FST {kind!r}/{arc!r} flags {flags}")
        states_bytes, arcs_bytes = states * CONST_STATE_BYTES, arcs * ARC_BYTES
        if states < 0 or arcs < 0 or pos + states_bytes + arcs_bytes > size:
            raise GraphFormatError(f"{src.name}: shorter than its {states} states, {arcs} arcs")
        tmp = dst.with_name(dst.name + ".part")
        with open(tmp, "wb") as out:
            header = bytearray(head[:pos])
            struct.pack_into("<i", header, flags_at, flags | IS_ALIGNED)
            out.write(header)
            f.seek(pos)
            for part in (states_bytes, arcs_bytes, size - pos - states_bytes - arcs_bytes):
                if part != size - pos - states_bytes - arcs_bytes:
                    out.write(b"\0" * (-out.tell() % ALIGNMENT))
                _copy(f, out, part)
            written = out.tell()
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(dst)
        return written


def _copy(src: BinaryIO, dst: BinaryIO, n: int) -> None:
    while n > 0:
        block = src.read(min(n, 1 << 24))
        if not block:
            raise GraphFormatError("the graph file ended early")
        dst.write(block)
        n -= len(block)


def aligned_model(model: Path, cache: Path) -> Path | None:
    """A model folder whose HCLr.fst can be mapped (made once under `cache`, ~182 MB; made
    again when the model's file changes), or None when it can't be made (logged)."""
    src = model / GRAPH
    try:
        st = src.stat()
        want = {"source": str(src.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        out = cache / "vosk-model"
        stamp = out / STAMP
        with contextlib.suppress(OSError, ValueError):
            if json.loads(stamp.read_text(encoding="utf-8")) == want and (out / GRAPH).is_file():
                return out
        (out / "graph").mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)
        for part in model.iterdir():  # am/, conf/, ivector/, README: links to the model's own
            if part.name != "graph":
                _link(out / part.name, part.resolve())
        for part in (model / "graph").iterdir():
            if part.name != GRAPH.name:
                _link(out / "graph" / part.name, part.resolve())
        align_graph(src, out / GRAPH)
        stamp.write_text(json.dumps(want), encoding="utf-8")
        return out
    except (OSError, GraphFormatError) as e:
        log.warning("speech graph stays in the heap (no mappable copy): %s", e)
        return None


def _link(path: Path, target: Path) -> None:
    if path.is_symlink() or path.exists():
        if path.is_symlink() and path.resolve() == target:
            return
        path.unlink()
    path.symlink_to(target)


def _vosk_library() -> ctypes.CDLL:
    import vosk

    return ctypes.CDLL(str(Path(vosk.__file__).with_name("libvosk.so")))


def _set_read_mode(lib: ctypes.CDLL, old: bytes, new: bytes) -> bool:
    """Replace the flag's value `old` by `new` in place (within its capacity). libvosk is built
    with GCC's reference-counted std::string (the pre-C++11 ABI): the flag holds a pointer to
    the characters, preceded by length, capacity and a reference count. Anything else found
    there (another build) is left alone and False returned."""
    try:
        flag = ctypes.c_void_p.in_dll(lib, "FLAGS_fst_read_mode")
    except ValueError:
        return False
    chars = flag.value
    if not chars:
        return False
    length = ctypes.c_size_t.from_address(chars - 24)
    capacity = ctypes.c_size_t.from_address(chars - 16).value
    refcount = ctypes.c_int.from_address(chars - 8).value
    if length.value != len(old) or capacity < max(len(old), len(new)) or refcount != 0:
        return False
    if ctypes.string_at(chars, len(old) + 1) != old + b"\0":
        return False
    ctypes.memmove(chars, new + b"\0", len(new) + 1)
    length.value = len(new)
    return True


@contextlib.contextmanager
def mapped_reads() -> Iterator[bool]:
    """While inside, OpenFst maps the FSTs it reads (yields whether it could be set)."""
    try:
        lib = _vosk_library()
    except OSError:
        yield False
        return
    mapped = _set_read_mode(lib, b"read", b"map")
    try:
        yield mapped
    finally:
        if mapped and not _set_read_mode(lib, b"map", b"read"):
            log.warning("could not set OpenFst's read mode back to 'read'")


def mapped_bytes(path: Path) -> int:
    """How much of this process's address space maps `path` (0 if none)."""
    return sum(hi - lo for lo, hi in _mappings(path))


def resident_bytes(path: Path) -> int:
    """How much of `path`'s mappings is resident in this process (from /proc/self/smaps)."""
    name = str(path.resolve())
    total, inside = 0, False
    try:
        with open("/proc/self/smaps", encoding="utf-8", errors="replace") as f:
            for line in f:
                first = line.split(maxsplit=1)[0]
                if "-" in first and not first.endswith(":"):
                    inside = line.rstrip("\n").endswith(name)
                elif inside and first == "Rss:":
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total


def _mappings(path: Path, *, read_only: bool = False) -> list[tuple[int, int]]:
    """This process's mappings of `path` (with `read_only`, only those without write access)."""
    name = str(path.resolve())
    spans = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.rstrip("\n").endswith(name):
                    span, perms = line.split()[:2]
                    if read_only and "w" in perms:
                        continue
                    lo, hi = (int(x, 16) for x in span.split("-"))
                    spans.append((lo, hi))
    except OSError:
        return []
    return spans


def advise_random(path: Path) -> int:
    """madvise(MADV_RANDOM) on this process's mappings of `path` (the decoder jumps around
    the graph: read-ahead would bring in pages it never uses); returns the bytes advised."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    for lo, hi in _mappings(path):
        if libc.madvise(lo, hi - lo, MADV_RANDOM) == 0:
            done += hi - lo
    return done


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.madvise.restype = ctypes.c_int
    return libc


class MappedGraph:
    """The mapped graph's read-only address ranges in this process, found once after loading,
    so that its pages can be given back between utterances without reading /proc again."""

    def __init__(self, path: Path, spans: list[tuple[int, int]]) -> None:
        self.path = path
        self.spans = tuple(spans)
        self.releases = 0
        self.release_s_total = 0.0  # time spent in madvise, for the benchmarks
        self.release_s_max = 0.0
        self._libc = _libc()
        self._due = threading.Event()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requested = 0  # release_soon() calls
        self._served = 0  # of those, the ones a finished release started after

    @classmethod
    def find(cls, path: Path) -> "MappedGraph | None":
        """The read-only mappings of `path` in this process, or None when there are none."""
        spans = _mappings(path, read_only=True)
        return cls(path, spans) if spans else None

    @property
    def size(self) -> int:
        """Bytes mapped."""
        return sum(hi - lo for lo, hi in self.spans)

    def release(self) -> int:
        """madvise(MADV_DONTNEED) on the mapping: its resident pages leave this process's RSS
        (they stay in the page cache; the next decode faults them back in). Returns the bytes
        advised (0 when the kernel refused, logged). Safe beside a decoder reading the graph:
        a page it needs again is faulted back in."""
        done = 0
        started = time.perf_counter()
        for lo, hi in self.spans:
            if self._libc.madvise(lo, hi - lo, MADV_DONTNEED) == 0:
                done += hi - lo
            else:
                errno = ctypes.get_errno()
                log.warning("madvise(DONTNEED) on the speech graph failed: errno %d", errno)
        took = time.perf_counter() - started
        with self._done:
            self.releases += 1
            self.release_s_total += took
            self.release_s_max = max(self.release_s_max, took)
            self._done.notify_all()
        return done

    def release_soon(self) -> None:
        """Release on this graph's own thread, off the caller's path: measured under load, one
        release took up to 270 ms (mean 40-60 ms), which the decision must not wait for."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="speech-graph-release", daemon=True
                )
                self._thread.start()
        with self._done:
            self._requested += 1
        self._due.set()

    def wait_settled(self, timeout_s: float) -> bool:
        """Wait until every release asked for so far has been done (requests made while one
        runs are served by the next; for tests and benchmarks)."""
        with self._done:
            want = self._requested
            return self._done.wait_for(lambda: self._served >= want, timeout_s)

    def wait_released(self, count: int, timeout_s: float) -> bool:
        """Wait until `count` releases have been done (for tests and benchmarks)."""
        with self._done:
            return self._done.wait_for(lambda: self.releases >= count, timeout_s)

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            with self._done:
                asked = self._requested
            self.release()
            with self._done:
                self._served = asked
                self._done.notify_all()


_graphs: dict[int, MappedGraph] = {}


def mapped_graph(model: Any) -> MappedGraph | None:
    """The mapped graph of a model loaded by `load_mapped_model` (None for a model in the heap)."""
    return _graphs.get(id(model))


def drop_cached(path: Path) -> None:
    """Ask the kernel to forget `path`'s cached pages (clean; no other process maps them
    here), so the mapping starts cold and faults in only what is decoded."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def load_mapped_model(model: Path, cache: Path) -> Any:
    """The Vosk model with its lexicon graph mapped from an aligned copy under `cache`, or
    None when that can't be done (the caller loads the model as usual)."""
    from device.audio.asr import load_model

    folder = aligned_model(model, cache)
    if folder is None:
        return None
    graph = folder / GRAPH
    drop_cached(graph)
    with mapped_reads() as mapped:
        if not mapped:
            log.warning("speech graph stays in the heap: libvosk's read-mode flag not found")
            return None
        loaded = load_model(folder)
    advised = advise_random(graph)
    found = MappedGraph.find(graph)
    if found is not None:
        _graphs[id(loaded)] = found
    log.info("speech graph mapped from %s (%d MB mapped, random access)", graph, advised >> 20)
    return loaded
