"""Render examples/*.flow highlighted by the editor grammar to docs/pictures/editor-*.png.

    cd editors/screenshot && npm install && cd ../.. && python editors/screenshot/screenshot.py

The highlighting is shiki's (the TextMate engine VS Code uses, with Oniguruma) applied to
``editors/flow.tmLanguage.json`` and VS Code's Dark+ theme; the page is rendered by headless
Chromium (Playwright driving ``/usr/bin/chromium``). Fails if the grammar marks any text of
an example illegal.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GRAMMAR = ROOT / "editors" / "flow.tmLanguage.json"
PICTURES = ROOT / "docs" / "pictures"
CHROMIUM = "/usr/bin/chromium"
THEME = "dark-plus"
EXAMPLES = ("etl.flow", "media.flow", "report.flow", "schedules.flow")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #1e1e1e; font: 14px/1.5 "DejaVu Sans Mono", monospace; }}
.tab {{ background: #252526; color: #cccccc; padding: 6px 16px; font-family: sans-serif;
        font-size: 13px; border-bottom: 1px solid #333; }}
#editor {{ display: inline-block; width: max-content; min-width: 760px; }}
pre.shiki {{ margin: 0; padding: 10px 0; counter-reset: line; }}
pre.shiki .line::before {{ counter-increment: line; content: counter(line); display: inline-block;
        width: 3em; margin-right: 1.5em; text-align: right; color: #6e7681; }}
</style></head><body><div id="editor">
<div class="tab">{name}</div>{code}</div></body></html>"""


def highlight(files: list[Path]) -> list[dict[str, object]]:
    out = subprocess.run(["node", str(HERE / "highlight.mjs"), str(GRAMMAR), THEME,
                          *map(str, files)], cwd=HERE, check=True, capture_output=True,
                         text=True, timeout=120).stdout
    return list(json.loads(out))


def main() -> int:
    files = [ROOT / "examples" / name for name in EXAMPLES]
    results = highlight(files)
    bad = {r["file"]: r["illegal"] for r in results if r["illegal"]}
    if bad:
        print(f"the grammar marks text illegal: {bad}", file=sys.stderr)
        return 1
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(device_scale_factor=1)
        for result in results:
            name = Path(str(result["file"])).name
            page.set_content(PAGE.format(name=html.escape(name), code=result["html"]))
            target = PICTURES / f"editor-{Path(name).stem}.png"
            page.locator("#editor").screenshot(path=str(target))
            print(f"wrote {target.relative_to(ROOT)}")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
