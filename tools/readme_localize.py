#!/usr/bin/env python3
"""The `avsl localize` pictures of docs/commands.md and the README, from a finished `avsl demo` folder.

Builds a 15 s video (448x448, 25 fps) from the demo's synthetic test scenes, 3 s each:
three scenes with their own sound, the second scene again in silence, and a scene heard
with another scene's sound (a non-sounding pair of the extended set). Then runs
`avsl localize --video` with the demo's SLAVC checkpoint (its calibration comes with it)
and copies the timeline and one overlay frame per segment into docs/images/.

Usage: tools/readme_localize.py DEMO_OUT [AVSL_BINARY]   (needs ffmpeg; stdlib only)
"""

import csv
import pathlib
import shutil
import subprocess
import sys
import tempfile

SEGMENT = 3.0


def run(*args):
    subprocess.run([str(a) for a in args], check=True)


def segment(frame, audio, out, silent=False):
    """A still frame for SEGMENT seconds with `audio` looped (or silence), 16 kHz mono."""
    sound = ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono"] if silent else ["-stream_loop", "-1", "-i", audio]
    run("ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "25", "-i", frame, *sound,
        "-t", SEGMENT, "-vf", "scale=448:448:flags=neighbor", "-ar", "16000", "-ac", "1",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", "-f", "matroska", out)


def main():
    demo = pathlib.Path(sys.argv[1])
    avsl = sys.argv[2] if len(sys.argv) > 2 else "target/release/avsl"
    data = demo / "data"
    rows = list(csv.DictReader(open(demo / "eval/slavc/av/samples.csv")))
    # Scenes the model localises well, highest confidence first, one per source kind.
    good = sorted((r for r in rows if r["has_boxes"] == "true" and float(r["ciou"]) >= 0.5),
                  key=lambda r: -float(r["conf"]))
    silent_pairs = [r for r in rows if r["has_boxes"] == "false" and r["video"] != r["audio"]]
    picked = good[:3]
    frame = lambda r: data / "frames" / f"{r['video']}.jpg"
    audio = lambda r: data / "audio" / f"{r['audio']}.wav"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        parts = []
        for i, r in enumerate(picked):
            parts.append(tmp / f"{i}.mkv")
            segment(frame(r), audio(r), parts[-1])
        parts.append(tmp / "silent.mkv")
        segment(frame(picked[1]), None, parts[-1], silent=True)
        parts.append(tmp / "other.mkv")
        segment(frame(silent_pairs[0]), audio(silent_pairs[0]), parts[-1])
        (tmp / "list.txt").write_text("".join(f"file '{p}'\n" for p in parts))
        video = tmp / "scenes.mp4"
        run("ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", tmp / "list.txt",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", video)
        out = tmp / "localized"
        run(avsl, "localize", "--checkpoint", demo / "runs/slavc/latest.safetensors", "--video", video, "--out", out)
        images = pathlib.Path("docs/images")
        images.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "timeline.png", images / "localize_timeline.png")
        # One overlay frame from the middle of each segment, side by side.
        tiles = []
        for k in range(len(parts)):
            tiles.append(tmp / f"tile{k}.png")
            run("ffmpeg", "-v", "error", "-y", "-ss", SEGMENT * k + SEGMENT / 2, "-i", out / "overlay.mp4",
                "-frames:v", "1", "-vf", "scale=300:300", tiles[-1])
        inputs = [a for t in tiles for a in ("-i", t)]
        run("ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", f"hstack=inputs={len(tiles)}",
            images / "localize_overlay.png")
        print(f"wrote {images}/localize_timeline.png and {images}/localize_overlay.png")


if __name__ == "__main__":
    main()
