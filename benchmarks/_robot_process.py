"""The robot for benchmarks/voice_to_alert.py, in its own process: stdin commands, JSON-line events.

Commands (one per stdin line): `say <wav path>` plays the clip into the robot's ears at
real-time pace; `quit` (or the end of stdin) stops the agent. Events (one JSON object per
stdout line, times on CLOCK_MONOTONIC, which is system-wide on Linux):
  {"ready": true}                                   the agent is listening
  {"clip_end": t, "clip_end_stream_s": s, "clip": name}   the clip's last sample was heard
  {"step": name, "at": t, "detail": text}           an agent Step
  {"mqtt_acked": seq, "at": t}                      the broker acknowledged outbox event seq
With --model-rss it only loads the Vosk model and prints the process's VmRSS before and after.
The speech graph is read into the heap (the code's default) unless DOLBOM_BENCH_ASR_GRAPH=mapped
(as deploy/pi/robot.toml ships it); with it mapped, DOLBOM_BENCH_GRAPH_RELEASE=off keeps its
pages between utterances, =decided gives them back only when each utterance is decided (the code
before issue 17's in-decode release), default: also every second of audio during a decode, as
the code does.
voice_to_alert.py passes its environment on, so both are measured with the same benchmark.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from device.agent import State, Step
from device.audio.source import AudioChunk, ScriptedSource, read_wav
from device.config import DeviceConfig, MqttConfig
from device.main import build_agent, open_listener
from device.speech.tts import PrintSpeaker

_out_lock = threading.Lock()


def emit(record: dict[str, Any]) -> None:
    """One event line for the parent; several threads emit, so lines are written whole."""
    line = json.dumps(record, ensure_ascii=False)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def status_kb(field: str) -> int:
    """A `/proc/self/status` memory field (VmRSS, VmHWM) in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


class StreamClock:
    """Wraps the scripted source to remember the stream time of the last chunk handed out."""

    def __init__(self, source: ScriptedSource) -> None:
        self.source = source
        self.last_end_s = 0.0

    def chunks(self) -> Iterator[AudioChunk]:
        """The source's chunks, unchanged."""
        for chunk in self.source.chunks():
            self.last_end_s = chunk.end_s
            yield chunk

    def close(self) -> None:
        """Close the wrapped source."""
        self.source.close()


def measure_model_rss() -> None:
    """Print VmRSS before and after loading only the Vosk model, in a fresh process."""
    import vosk

    from device.audio.asr import default_model_path

    vosk.SetLogLevel(-1)
    path = default_model_path()
    before_kb = status_kb("VmRSS")
    model = vosk.Model(model_path=str(path))
    after_kb = status_kb("VmRSS")
    emit(
        {
            "rss_before_mb": before_kb / 1024,
            "rss_after_mb": after_kb / 1024,
            "hwm_mb": status_kb("VmHWM") / 1024,
            "model": str(path),
            "loaded": model is not None,
        }
    )


def run_robot(args: argparse.Namespace) -> None:
    """Build the real agent around a scripted source and serve stdin commands until quit."""
    clock_ref: list[StreamClock] = []

    def on_clip_end(path: Path, at_s: float) -> None:
        stream_s = clock_ref[0].last_end_s if clock_ref else 0.0
        emit({"clip_end": at_s, "clip_end_stream_s": stream_s, "clip": path.name})

    room = read_wav(args.room) if args.room is not None else None
    source = ScriptedSource([], realtime=True, idle=True, on_clip_end=on_clip_end, room=room)
    clock = StreamClock(source)
    clock_ref.append(clock)
    config = DeviceConfig(
        device_id=args.device_id,
        data_dir=args.data_dir,
        speech_out="print",
        mqtt=MqttConfig(host=args.mqtt_host, port=args.mqtt_port, reconnect_max_s=2.0),
        asr_graph="mapped" if os.environ.get("DOLBOM_BENCH_ASR_GRAPH") == "mapped" else "heap",
    )

    def on_step(step: Step) -> None:
        emit({"step": step.name, "at": step.at_s, "detail": step.detail})

    def on_acked(seq: int) -> None:
        emit({"mqtt_acked": seq, "at": time.monotonic()})

    ears = open_listener(config)
    graph = getattr(ears.recognizer, "graph", None)
    if graph is not None and os.environ.get("DOLBOM_BENCH_GRAPH_RELEASE") == "off":
        ears.recognizer.release_graph_pages = False  # type: ignore[attr-defined]
    if graph is not None and os.environ.get("DOLBOM_BENCH_GRAPH_RELEASE") == "decided":
        ears.recognizer.release_every_s = None  # type: ignore[attr-defined]
    emit({"asr_graph": config.asr_graph, "graph_mapped": graph is not None})
    agent = build_agent(
        config,
        source=clock,
        speaker=PrintSpeaker(lambda _text: None),
        observer=on_step,
        on_acked=on_acked,
        listener=ears,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def read_commands() -> None:
            for line in sys.stdin:
                command, _, arg = line.strip().partition(" ")
                if command == "say":
                    source.say(Path(arg))
                elif command == "quit":
                    break
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=read_commands, name="stdin", daemon=True).start()
        task = asyncio.create_task(agent.run(stop))
        # The agent has no "listening" event to await; its state flips within a few ms.
        while agent.state is not State.LISTENING and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        emit({"ready": True})
        await task

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device-id", default="bench-robot")
    parser.add_argument("--mqtt-host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/dolbom-bench-robot"))
    parser.add_argument("--model-rss", action="store_true", help="only measure the model's RSS")
    parser.add_argument("--room", type=Path, help="a WAV the robot hears in a loop when idle")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    if args.model_rss:
        measure_model_rss()
    else:
        run_robot(args)


if __name__ == "__main__":
    main()
