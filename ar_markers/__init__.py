"""AR markers: dictionaries, printable marker images and sheets, detection and pose in frames.

Pure functions over bytes and arrays — no database, no web, no event loop — so the edge can run
them in a thread or process pool. Entry points:

- `frame_analysis.analyse_frame` — one camera frame (JPEG/PNG bytes) → markers with poses.
- `smoothing.PoseSmoother` — one per visitor, steadies poses between frames.
- `images.marker_png`, `sheets.sheet_pdf` — what a librarian prints.
- `dictionaries` — the marker families by API name, id validation.
- `synthetic` — camera pictures of markers at known poses, for tests, benchmarks and a fake
  browser camera.
"""
