"""The speech model's lexicon graph mapped from an aligned copy (device.speech_graph)."""

import ctypes
import json
import struct
from pathlib import Path

import pytest

from device import speech_graph as sg


def _header(fst_type: bytes, flags: int, states: int, arcs: int) -> bytes:
    return (
        struct.pack("<i", sg.FST_MAGIC)
        + struct.pack("<i", len(fst_type))
        + fst_type
        + struct.pack("<i", 8)
        + b"standard"
        + struct.pack("<ii", 2, flags)
        + struct.pack("<Qqqq", 0x65A566A60001, 0, states, arcs)
    )


def graph_bytes(states: int = 3, arcs: int = 5, flags: int = 0, add_on: bytes = b"ADDON") -> bytes:
    """A file laid out as the model's HCLr.fst: outer header, add-on marker, ConstFst header,
    states, arcs, then the add-on's bytes; every state and arc byte numbered."""
    body = bytes(i % 251 for i in range(min(states, 64) * 20 + min(arcs, 64) * 16))
    return (
        _header(b"olabel_lookahead", 0, -1, 0)
        + struct.pack("<i", sg.ADD_ON_MAGIC)
        + _header(b"const", flags, states, arcs)
        + body
        + add_on
    )


def test_align_puts_the_arrays_on_16_byte_offsets_and_keeps_every_byte(tmp_path: Path) -> None:
    src, dst = tmp_path / "HCLr.fst", tmp_path / "aligned.fst"
    raw = graph_bytes(states=3, arcs=5)
    src.write_bytes(raw)
    written = sg.align_graph(src, dst)
    out = dst.read_bytes()
    assert written == len(out)
    kind, _arc, flags, flags_at, states, arcs, pos = sg._header(out, 4 + 20 + 12 + 8 + 32 + 4)
    assert (kind, states, arcs) == (b"const", 3, 5)
    assert flags == sg.IS_ALIGNED
    states_at = pos + (-pos % 16)
    arcs_at = states_at + 60 + (-(states_at + 60) % 16)
    assert states_at % 16 == 0
    assert arcs_at % 16 == 0
    raw_pos = len(raw) - 5 - 60 - 80
    assert out[states_at : states_at + 60] == raw[raw_pos : raw_pos + 60]
    assert out[arcs_at : arcs_at + 80] == raw[raw_pos + 60 : raw_pos + 140]
    assert out[arcs_at + 80 :] == b"ADDON"
    expected = bytearray(raw[:pos])  # the header, with only the inner FST's flags changed
    struct.pack_into("<i", expected, flags_at, sg.IS_ALIGNED)
    assert out[:pos] == bytes(expected)
    assert not (tmp_path / "aligned.fst.part").exists()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\0" * 200, "no FST header"),
        (graph_bytes()[:150], "shorter than"),
        (graph_bytes(flags=sg.IS_ALIGNED), "flags 4"),
        (_header(b"const", 0, 3, 5) + b"\0" * 200, "not olabel_lookahead"),
        (graph_bytes(states=2**40), "shorter than"),
        (graph_bytes().replace(struct.pack("<i", sg.ADD_ON_MAGIC), b"\0\0\0\0"), "add-on"),
    ],
)
def test_align_refuses_another_layout(tmp_path: Path, raw: bytes, why: str) -> None:
    src = tmp_path / "HCLr.fst"
    src.write_bytes(raw)
    with pytest.raises(sg.GraphFormatError, match=why):
        sg.align_graph(src, tmp_path / "out.fst")
    assert not (tmp_path / "out.fst").exists()


def fake_model(root: Path, graph: bytes) -> Path:
    model = root / "model"
    for part in ("am", "conf", "ivector", "graph/phones"):
        (model / part).mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"mdl")
    (model / "graph" / "Gr.fst").write_bytes(b"G")
    (model / "graph" / "HCLr.fst").write_bytes(graph)
    return model


def test_aligned_model_links_the_other_parts_and_is_made_once(tmp_path: Path) -> None:
    model = fake_model(tmp_path, graph_bytes())
    out = sg.aligned_model(model, tmp_path / "cache")
    assert out is not None
    assert (out / "am").is_symlink()
    assert (out / "am" / "final.mdl").read_bytes() == b"mdl"
    assert (out / "graph" / "Gr.fst").resolve() == (model / "graph" / "Gr.fst").resolve()
    assert not (out / "graph" / "HCLr.fst").is_symlink()
    stamp = json.loads((out / sg.STAMP).read_text(encoding="utf-8"))
    assert stamp["size"] == len(graph_bytes())
    made = (out / "graph" / "HCLr.fst").stat().st_mtime_ns
    assert sg.aligned_model(model, tmp_path / "cache") == out  # reused, not rewritten
    assert (out / "graph" / "HCLr.fst").stat().st_mtime_ns == made
    # a new model file (an upgrade) makes a new copy
    (model / "graph" / "HCLr.fst").write_bytes(graph_bytes(states=4))
    assert sg.aligned_model(model, tmp_path / "cache") == out
    assert json.loads((out / sg.STAMP).read_text(encoding="utf-8"))["size"] == len(
        graph_bytes(states=4)
    )


def test_aligned_model_is_none_for_a_graph_it_does_not_know(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = fake_model(tmp_path, b"not an fst at all" * 20)
    assert sg.aligned_model(model, tmp_path / "cache") is None
    assert "stays in the heap" in caplog.text
    assert sg.aligned_model(tmp_path / "missing", tmp_path / "cache") is None


def _read_mode() -> bytes:
    flag = ctypes.c_void_p.in_dll(sg._vosk_library(), "FLAGS_fst_read_mode")
    assert flag.value is not None
    return ctypes.string_at(flag.value)


def test_mapped_reads_sets_openfst_read_mode_and_puts_it_back() -> None:
    assert _read_mode() == b"read"
    with sg.mapped_reads() as mapped:
        assert mapped
        assert _read_mode() == b"map"
    assert _read_mode() == b"read"
    lib = sg._vosk_library()
    assert not sg._set_read_mode(lib, b"map", b"read")  # it is not "map": left alone
    assert _read_mode() == b"read"


@pytest.mark.slow
def test_the_mapped_model_hears_what_the_heap_model_hears(tmp_path: Path) -> None:
    """The real model, its graph mapped from an aligned copy: the committed probe and a human
    call for help decode exactly as with the model read into the heap; the graph is mapped
    and only partly resident."""
    from device.audio.asr import SpeechRecognizer, default_model_path, load_model
    from device.audio.source import AudioChunk, read_wav

    vosk_model = load_model()
    mapped = sg.load_mapped_model(default_model_path(), tmp_path)
    assert mapped is not None
    assert mapped is not vosk_model
    graph = tmp_path / "vosk-model" / "graph" / "HCLr.fst"
    assert sg.mapped_bytes(graph) > 100 * 2**20  # the ConstFst's 134 MB of states and arcs
    assert _read_mode() == b"read"
    clip = Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "ko-help-calls"
    samples = read_wav(sorted(clip.glob("*.wav"))[0])
    heard = []
    # The mapped model twice: the second time its pages are given back every 0.1 s of audio,
    # synchronously, so that the decode surely faults them in again mid-utterance.
    for n, model in enumerate((vosk_model, mapped, mapped)):
        rec = SpeechRecognizer(model)
        if model is mapped:
            assert rec.graph is not None
            rec.release_graph_pages = False
            assert rec.self_test()[0]
            assert 0 < sg.resident_bytes(graph) < sg.mapped_bytes(graph)
            rec.release_graph_pages = True
            assert rec.self_test()[0]
            assert rec.graph.wait_settled(timeout_s=60)
            assert sg.resident_bytes(graph) == 0  # the probe's pages given back
        else:
            assert rec.self_test()[0]
        if n == 2:
            assert rec.graph is not None
            rec.release_every_s = 0.1
            rec.graph.release_soon = rec.graph.release  # type: ignore[method-assign,assignment]
        before = 0 if rec.graph is None else rec.graph.releases
        rec.start()
        for i in range(0, len(samples), 512):
            rec.accept(AudioChunk(samples[i : i + 512], i / 16000))
        if n == 2:
            assert rec.graph is not None
            chunks = len(range(0, len(samples), 512))  # 32 ms each: a release every 4th
            assert rec.graph.releases - before == chunks // 4  # mid-decode, the last one short
        heard.append(rec.finish())
        if model is mapped:  # decided: the graph's pages are given back, on its own thread
            assert rec.graph is not None
            assert rec.graph.wait_settled(timeout_s=60)
            assert sg.resident_bytes(graph) == 0
    assert heard[0] == heard[1] == heard[2]
    assert heard[0].text
    assert SpeechRecognizer(vosk_model).graph is None


def test_release_gives_the_mapped_pages_back_and_keeps_every_byte(tmp_path: Path) -> None:
    """MADV_DONTNEED on a read-only mapping: its pages leave the resident set, and reading
    them again gives the same bytes (from the page cache); writable mappings are not found."""
    import mmap

    path = tmp_path / "HCLr.fst"
    data = bytes(range(256)) * (8 * 2**20 // 256)  # 8 MB, every page different from zero
    path.write_bytes(data)
    assert sg.MappedGraph.find(path) is None  # not mapped yet
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert bytes(mapped) == data  # every page touched
        graph = sg.MappedGraph.find(path)
        assert graph is not None
        assert graph.size == len(data)
        assert sg.resident_bytes(path) > len(data) // 2
        assert graph.release() == len(data)
        assert sg.resident_bytes(path) == 0
        assert graph.releases == 1
        assert bytes(mapped) == data  # faulted back in, unchanged
        assert sg.resident_bytes(path) > len(data) // 2
        graph.release_soon()  # the same, on the graph's own thread
        assert graph.wait_released(2, timeout_s=60)
        assert sg.resident_bytes(path) == 0
        assert bytes(mapped) == data
    other = tmp_path / "writable.bin"
    other.write_bytes(data)
    with open(other, "r+b") as g, mmap.mmap(g.fileno(), 0) as writable:
        assert writable[:4] == data[:4]
        assert sg.MappedGraph.find(other) is None  # only read-only mappings are released


def test_a_model_not_loaded_mapped_has_no_graph_to_release() -> None:
    assert sg.mapped_graph(object()) is None


def test_the_robot_maps_the_graph_only_when_its_config_asks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`asr_graph = "mapped"` loads the mapped model from data_dir/speech-graph, and falls back
    to the model read as usual when it can't be mapped; "heap" (the default) never tries."""
    import device.main as main
    from device.config import DeviceConfig

    tried: list[Path] = []

    def cannot_map(model: Path, cache: Path) -> None:
        tried.append(cache)

    monkeypatch.setattr(main, "load_mapped_model", cannot_map)
    monkeypatch.setattr(main, "load_model", lambda: "heap model")

    class Built(tuple[object, float]):
        def warm(self) -> float:
            return 0.0

    monkeypatch.setattr(
        main, "SpeechRecognizer", lambda model, rss_growth_mb: Built((model, rss_growth_mb))
    )
    mapped = DeviceConfig(device_id="robot-1", data_dir=tmp_path, asr_graph="mapped")
    got: object = main.open_recognizer(mapped)
    assert got == ("heap model", 70.0)
    assert tried == [tmp_path / "speech-graph"]
    monkeypatch.setattr(main, "load_mapped_model", lambda model, cache: "mapped model")
    now_mapped: object = main.open_recognizer(mapped)
    assert now_mapped == ("mapped model", 70.0)
    heap = DeviceConfig(device_id="robot-1", data_dir=tmp_path)
    from_heap: object = main.open_recognizer(heap)
    assert from_heap == ("heap model", 70.0)
    assert len(tried) == 1
