"""Turn a member's STL or 3MF into G-code for a given printer, with PrusaSlicer's CLI.

The slicer runs as a subprocess (never on the event loop) with a timeout, from a profile
generated from what the farm knows about the printer: build volume, nozzle and material. The
estimates members see before confirming (time, filament length and weight) are read from the
comment block PrusaSlicer writes into the G-code; the same parser serves uploaded G-code, whose
slicer may or may not have written one.

A model that cannot be printed is refused with `Invalid` and the slicer's own reason, so that
the member reads "bigger than the printer (…)" rather than a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from core.errors import Invalid, Unavailable

MODEL_SUFFIXES = {".stl", ".3mf"}
GCODE_SUFFIXES = {".gcode", ".gco", ".g"}
# Estimates sit in the last few kilobytes (PrusaSlicer) or the first ones (Cura, others).
_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Material:
    name: str = "PLA"
    nozzle_temp_c: int = 210
    bed_temp_c: int = 60
    density_g_cm3: float = 1.24
    filament_diameter_mm: float = 1.75


@dataclass(frozen=True, slots=True)
class PrinterProfile:
    """What slicing needs to know about a printer; the rest are PrusaSlicer's defaults."""

    build_volume_mm: tuple[float, float, float]
    nozzle_mm: float = 0.4
    material: Material = field(default_factory=Material)
    layer_height_mm: float | None = None  # half the nozzle unless set

    def to_ini(self) -> str:
        x, y, z = self.build_volume_mm
        layer = self.layer_height_mm or round(self.nozzle_mm / 2, 2)
        m = self.material
        settings = {
            "bed_shape": f"0x0,{x:g}x0,{x:g}x{y:g},0x{y:g}",
            "max_print_height": f"{z:g}",
            "nozzle_diameter": f"{self.nozzle_mm:g}",
            "layer_height": f"{layer:g}",
            "first_layer_height": f"{layer:g}",
            "filament_type": m.name,
            "filament_diameter": f"{m.filament_diameter_mm:g}",
            "filament_density": f"{m.density_g_cm3:g}",
            "temperature": str(m.nozzle_temp_c),
            "first_layer_temperature": str(m.nozzle_temp_c),
            "bed_temperature": str(m.bed_temp_c),
            "first_layer_bed_temperature": str(m.bed_temp_c),
            "gcode_flavor": "marlin2",
        }
        return "".join(f"{key} = {value}\n" for key, value in settings.items())


@dataclass(frozen=True, slots=True)
class SliceResult:
    gcode_path: Path
    estimate_s: int | None
    filament_mm: float | None
    filament_g: float | None
    filament_cm3: float | None = None


# -- G-code estimates -------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_PRUSA_TIME = re.compile(r"^;\s*estimated printing time(?: \(normal mode\))?\s*=\s*(.+)$", re.M)
_PRUSA_MM = re.compile(r"^;\s*filament used \[mm\]\s*=\s*([\d.,\s]+)$", re.M)
_PRUSA_CM3 = re.compile(r"^;\s*filament used \[cm3\]\s*=\s*([\d.,\s]+)$", re.M)
_PRUSA_G = re.compile(r"^;\s*(?:total )?filament used \[g\]\s*=\s*([\d.,\s]+)$", re.M)
_CURA_TIME = re.compile(r"^;TIME:(\d+(?:\.\d+)?)\s*$", re.M)
_CURA_METRES = re.compile(r"^;Filament used:\s*([\d.]+)m", re.M)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int | None:
    """'1d 2h 13m 45s' → seconds (PrusaSlicer's format)."""
    parts = _DURATION_PART.findall(text)
    if not parts:
        return None
    return round(sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def _sum_numbers(text: str) -> float:
    # Multi-extruder files list one value per extruder, separated by commas.
    return sum(float(part) for part in text.split(",") if part.strip())


class GcodeEstimates(NamedTuple):
    seconds: int | None
    filament_mm: float | None
    filament_g: float | None
    filament_cm3: float | None


def parse_gcode_estimates(text: str) -> GcodeEstimates:
    """(seconds, filament mm, filament g, filament cm³) from slicer comments; None where absent.

    A weight of 0 means the slicer did not know the material's density: that is unknown, not
    weightless.
    """
    seconds = filament_mm = filament_g = filament_cm3 = None
    if match := _PRUSA_TIME.search(text):
        seconds = parse_duration(match.group(1))
    elif match := _CURA_TIME.search(text):
        seconds = round(float(match.group(1)))
    if match := _PRUSA_MM.search(text):
        filament_mm = _sum_numbers(match.group(1))
    elif match := _CURA_METRES.search(text):
        filament_mm = float(match.group(1)) * 1000
    if match := _PRUSA_CM3.search(text):
        filament_cm3 = _sum_numbers(match.group(1))
    grams = [_sum_numbers(m.group(1)) for m in _PRUSA_G.finditer(text)]
    if grams and max(grams) > 0:
        filament_g = max(grams)
    return GcodeEstimates(seconds, filament_mm, filament_g, filament_cm3)


def _read_estimate_region(path: Path) -> str:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(0)
        head = handle.read(_HEADER_BYTES)
        tail = b""
        if size > _HEADER_BYTES:
            handle.seek(max(_HEADER_BYTES, size - _HEADER_BYTES))
            tail = handle.read()
    return (head + b"\n" + tail).decode("utf-8", errors="replace")


async def read_gcode(path: Path) -> SliceResult:
    """Estimates of an uploaded G-code file (all None when it carries no slicer comments)."""
    text = await asyncio.to_thread(_read_estimate_region, path)
    seconds, mm, grams, cm3 = parse_gcode_estimates(text)
    return SliceResult(path, seconds, mm, grams, cm3)


# -- slicing ---------------------------------------------------------------------------------


def slicer_executable(configured: str | None = None) -> str:
    found = configured or shutil.which("prusa-slicer")
    if not found:
        raise Unavailable("The slicer (PrusaSlicer) is not installed on the server")
    return found


async def _run(args: list[str], timeout_s: float, cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        # PrusaSlicer wants a writable home for its data directory, even headless.
        env={**os.environ, "HOME": str(cwd)},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise Invalid(
            f"Slicing took longer than {timeout_s:g} s; the model is probably too detailed"
        ) from None
    return process.returncode or 0, output.decode("utf-8", errors="replace")


def _slicer_reason(output: str, source: Path, shown_as: str) -> str:
    """The lines of PrusaSlicer's output that say what went wrong, minus log decoration.

    The slicer only ever saw a working copy; the member should read their own file's name.
    """
    reasons = []
    for line in output.replace(str(source), shown_as).splitlines():
        line = line.strip()
        if not line or "[trace]" in line or "[info]" in line or "=>" in line:
            continue
        line = re.sub(r"^\[[^\]]*\]\s*\[[^\]]*\]\s*\[\w+\]\s*", "", line)
        line = re.sub(r"^terminate called after throwing an instance of .*$", "", line)
        line = line.removeprefix("what():").strip()
        line = re.sub(r"^[a-z]+_[a-z_]+:\s*", "", line)  # the C++ function that complained
        if line and line not in reasons:
            reasons.append(line)
    return "; ".join(reasons[-3:]) or "no reason given"


def _parse_info(output: str) -> dict[str, float]:
    values = {}
    for key, value in re.findall(
        r"^(size_[xyz]|number_of_facets|volume)\s*=\s*([\d.eE+-]+)", output, re.M
    ):
        values[key] = float(value)
    return values


async def slice_model(
    model: Path,
    profile: PrinterProfile,
    output: Path,
    *,
    timeout_s: float = 300.0,
    slicer: str | None = None,
) -> SliceResult:
    """Slice `model` (STL or 3MF) for `profile` into `output`; Invalid if it cannot be printed.

    `slicer` is the PrusaSlicer executable (default: `prusa-slicer` on the PATH).
    """
    model, output = Path(model), Path(output)
    if model.suffix.lower() not in MODEL_SUFFIXES:
        raise Invalid(f"{model.name}: only STL and 3MF models can be sliced", field="file")
    executable = slicer_executable(slicer)
    with tempfile.TemporaryDirectory(prefix="slice-") as workdir:
        work = Path(workdir)
        # The model's name reaches the slicer's command line: copy under a fixed name so that
        # nothing a member typed is ever parsed as an option.
        source = work / f"model{model.suffix.lower()}"
        await asyncio.to_thread(shutil.copyfile, model, source)
        profile_path = work / "printer.ini"
        profile_path.write_text(profile.to_ini())

        code, info = await _run([executable, "--info", str(source)], timeout_s, work)
        size = _parse_info(info)
        if code != 0 or "size_x" not in size:
            raise Invalid(
                f"{model.name} is not a readable model: {_slicer_reason(info, source, model.name)}",
                field="file",
            )
        if not size.get("number_of_facets") or not size.get("volume"):
            raise Invalid(f"{model.name} is empty: it has no printable volume", field="file")
        dims = (size["size_x"], size["size_y"], size["size_z"])
        if any(d > limit + 1e-6 for d, limit in zip(dims, profile.build_volume_mm, strict=True)):
            raise Invalid(
                f"{model.name} is bigger than the printer: the model measures "
                f"{_mm(dims)} mm, the printer takes at most {_mm(profile.build_volume_mm)} mm",
                field="file",
            )

        out_tmp = work / "out.gcode"
        code, log = await _run(
            [
                executable,
                "--loglevel",
                "1",
                "--load",
                str(profile_path),
                "--export-gcode",
                str(source),
                "--output",
                str(out_tmp),
            ],
            timeout_s,
            work,
        )
        if code != 0 or not out_tmp.exists() or out_tmp.stat().st_size == 0:
            raise Invalid(
                f"{model.name} could not be sliced: {_slicer_reason(log, source, model.name)}",
                field="file",
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.move, out_tmp, output)
    result = await read_gcode(output)
    return result


async def prepare(
    upload: Path,
    profile: PrinterProfile,
    output_dir: Path,
    *,
    timeout_s: float = 300.0,
    slicer: str | None = None,
) -> SliceResult:
    """G-code passes through with its estimates read; STL/3MF is sliced into `output_dir`."""
    upload = Path(upload)
    suffix = upload.suffix.lower()
    if suffix in GCODE_SUFFIXES:
        return await read_gcode(upload)
    if suffix in MODEL_SUFFIXES:
        output = Path(output_dir) / f"{upload.stem}.gcode"
        return await slice_model(upload, profile, output, timeout_s=timeout_s, slicer=slicer)
    raise Invalid(
        f"{upload.name}: upload G-code, STL or 3MF (not {suffix or 'a file without extension'})",
        field="file",
    )


def _mm(dims: tuple[float, ...]) -> str:
    return " × ".join(f"{d:.0f}" for d in dims)
