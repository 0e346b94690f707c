"""The page around the sections: the HTML document with its inline CSS, the Content Security
Policy (no scripts, no load other than inline styles and data-URI images) and the navigation."""

from __future__ import annotations

from babelscope.report.markup import Markup, esc, join, tag

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1d1d1f;
background:#fafafa;line-height:1.45}
main{max-width:1480px;margin:0 auto;padding:1.5rem 2rem 4rem;background:#fff}
h1{font-size:1.7rem;margin:.2rem 0 .3rem}h2{font-size:1.35rem;border-bottom:2px solid #e3e3e3;padding-bottom:.2rem;
margin-top:2.4rem}h3{font-size:1.08rem;margin:1.4rem 0 .4rem}
nav{font-size:.92rem;margin:.6rem 0 1rem}nav a{margin-right:.9rem;color:#0b5cad;text-decoration:none}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.86rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f0f2f5}table.kv th{background:#f7f7f9;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0 1.6rem}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.86rem;color:#555;margin-top:.3rem}
.badge{display:inline-block;white-space:nowrap;border-radius:.8rem;padding:.05rem .6rem;font-size:.8rem;font-weight:600;color:#fff}
.badge.ok{background:#2e7d32}.badge.bad{background:#c62828}.badge.na{background:#757575}
.badge.notrun{background:#9e9e9e}p.notrun{color:#666}
.claim{border:1px solid #ddd;border-radius:.4rem;padding:.6rem 1rem;margin:.8rem 0}
.claim h3{margin-top:.2rem}.rule{font-size:.86rem;color:#444;background:#f7f7f9;padding:.4rem .6rem;border-radius:.3rem}
.warn{color:#8a4b00;background:#fff4e5;padding:.3rem .6rem;border-radius:.3rem}
details{margin:.4rem 0 1rem}summary{cursor:pointer;color:#0b5cad}
.gen td{max-width:28rem;word-break:break-word}
ul.headline li{margin:.15rem 0}
.ci{display:block;color:#555;font-size:.78rem;white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:0 2.5rem;align-items:flex-start}
table.iv{font-size:.8rem;display:block;overflow-x:auto}
"""

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'; "
       "base-uri 'none'; form-action 'none'")

#: the navigation bar: (section anchor, label), in page order
NAV = (("summary", "Summary"), ("location", "Where the neurons sit"), ("overlap", "Cross-modal overlap"),
       ("agreement", "Rank agreement"), ("concentration", "Concentration"), ("interventions", "Interventions"),
       ("claims", "Claims"), ("provenance", "Provenance"))


def page(title: str, body: Markup) -> str:
    """The whole HTML document: head (charset, CSP, viewport, title, CSS), ``<h1>``, navigation, ``body``."""
    nav = tag("nav", join(tag("a", label, href=f"#{anchor}") for anchor, label in NAV))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(CSP)}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"{tag('h1', title)}\n{nav}\n{body}\n</main>\n</body>\n</html>\n")
