"""Configuration for a Zebra SRU server holding the library catalog as MARCXML.

The files beside this module are what `zebraidx` and `zebrasrv` (Debian package idzebra-2.0)
read: copy them into an empty directory, make the subdirectories `register`, `shadow`,
`lock` and `tmp` there, and from that directory run

    zebraidx -c zebra.cfg init
    zebraidx -c zebra.cfg update RECORDS     # MARCXML <collection> files (yaz-marcdump -o marcxml)
    zebraidx -c zebra.cfg commit
    zebrasrv -T -f yazgfs.xml tcp:127.0.0.1:PORT

SRU then answers at http://127.0.0.1:PORT/Default with the CQL indexes listed in cql2pqf.txt:
dc.title, dc.creator, dc.subject, dc.date, dc.publisher, dc.language, dc.identifier (856 $u,
exact), bath.isbn (bare digits, ISBN-10 or -13), rec.id (001) and cql.anywhere /
cql.serverChoice. Word searches ignore case and diacritics ("lich" finds "Lịch sử").
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
CONFIG_FILES = tuple(
    sorted(
        p.name for p in CONFIG_DIR.iterdir() if p.suffix in (".cfg", ".idx", ".xml", ".xsl", ".txt")
    )
)
