"""vortex-py: a Lane 0 plugin written to the reference Vortex output contract (docs/sidecar.md).

Renders the recipe's slot with ffmpeg's test source (hue from the prompt), encodes VP9 into IVF and
a tone into Opus (Ogg), and answers
`{output_cid, video_data (base64 IVF), audio_waveform (base64 Opus), clip_embedding (512 floats, not
L2-normalised), determinism_proof (hex SHA-256), generation_time_ms (float)}` like the reference
plugin. Deterministic: the same payload gives the same bytes (libvpx single-threaded, bit-exact
muxers). Standard library only, plus Debian's ffmpeg (libvpx-vp9, libopus).
"""

import base64
import hashlib
import os
import random
import re
import struct
import subprocess
import tempfile
import time

EMBEDDING_DIM = 512


def _max_resolution():
    m = re.fullmatch(r"(\d+)x(\d+)", os.environ.get("VORTEX_MAX_RESOLUTION", "320x240"))
    return (int(m.group(1)), int(m.group(2))) if m else (320, 240)


def _slot_params(payload):
    recipe = payload.get("recipe")
    if not isinstance(recipe, dict):
        raise ValueError("recipe: expected an object")
    sp = recipe.get("slot_params")
    vt = recipe.get("visual_track")
    if not isinstance(sp, dict) or not isinstance(vt, dict):
        raise ValueError("recipe.slot_params / recipe.visual_track: expected objects")
    duration, fps = sp.get("duration_sec"), sp.get("fps")
    if not isinstance(duration, int) or not 1 <= duration <= 60:
        raise ValueError("recipe.slot_params.duration_sec: expected an integer 1..60")
    if not isinstance(fps, int) or not 1 <= fps <= 60:
        raise ValueError("recipe.slot_params.fps: expected an integer 1..60")
    m = re.fullmatch(r"(\d{1,4})x(\d{1,4})", str(sp.get("resolution", "")))
    if not m:
        raise ValueError("recipe.slot_params.resolution: expected WxH")
    cap_w, cap_h = _max_resolution()
    # Even sizes (VP9 4:2:0), at most the cap.
    w = max(16, min(int(m.group(1)), cap_w)) // 2 * 2
    h = max(16, min(int(m.group(2)), cap_h)) // 2 * 2
    prompt = str(vt.get("prompt", ""))
    return duration, fps, w, h, prompt


def _ffmpeg(args, timeout_s):
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    r = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {r.stderr.decode(errors='replace')[-500:]}")


def _embedding(prompt, slot):
    """512 values from the prompt and slot (the same on every director), deliberately not unit norm."""
    out = []
    counter = 0
    while len(out) < EMBEDDING_DIM:
        block = hashlib.sha256(f"{prompt}|{slot}|{counter}".encode()).digest()
        counter += 1
        for i in range(0, len(block), 2):
            out.append((struct.unpack_from("<H", block, i)[0] / 65535.0 - 0.5) * 7.0)
    out = out[:EMBEDDING_DIM]
    noise = os.environ.get("VORTEX_EMBEDDING_NOISE", "")
    m = re.fullmatch(r"([0-9.eE+-]+):(\d+)", noise)
    if m and float(m.group(1)) > 0:
        rng = random.Random(int(m.group(2)))
        scale = float(m.group(1)) * 7.0 * (EMBEDDING_DIM ** 0.5) / 2.0
        out = [x + rng.gauss(0.0, scale / (EMBEDDING_DIM ** 0.5)) for x in out]
    return out


class VortexPy:
    def run(self, payload, timeout_ms=None):
        started = time.monotonic()
        duration, fps, w, h, prompt = _slot_params(payload)
        slot = payload.get("slot_id")
        hue = int(hashlib.sha256(prompt.encode()).hexdigest()[:4], 16) % 360
        tone = 220 + int(hashlib.sha256(prompt.encode()).hexdigest()[4:8], 16) % 440
        timeout_s = (timeout_ms or 45000) / 1000.0
        with tempfile.TemporaryDirectory() as tmp:
            ivf = os.path.join(tmp, "video.ivf")
            opus = os.path.join(tmp, "audio.opus")
            _ffmpeg(
                [
                    "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={fps}:duration={duration},hue=h={hue}",
                    "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-threads", "1",
                    "-row-mt", "0", "-b:v", "200k", "-g", str(fps), "-pix_fmt", "yuv420p",
                    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", "ivf", ivf,
                ],
                timeout_s,
            )
            _ffmpeg(
                [
                    "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={duration}",
                    "-c:a", "libopus", "-b:a", "32k", "-fflags", "+bitexact", "-flags:a", "+bitexact",
                    "-map_metadata", "-1", "-f", "ogg", opus,
                ],
                timeout_s,
            )
            with open(ivf, "rb") as f:
                video = f.read()
            with open(opus, "rb") as f:
                audio = f.read()
        embedding = _embedding(prompt, slot)
        proof = hashlib.sha256(video + audio + struct.pack(f"<{EMBEDDING_DIM}f", *embedding)).hexdigest()
        return {
            "output_cid": "sha256:" + hashlib.sha256(video).hexdigest(),
            "video_data": base64.b64encode(video).decode("ascii"),
            "audio_waveform": base64.b64encode(audio).decode("ascii"),
            "clip_embedding": embedding,
            "determinism_proof": proof,
            "generation_time_ms": (time.monotonic() - started) * 1000.0,
        }
