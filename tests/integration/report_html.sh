#!/bin/bash
# tests/integration/report_html.sh - `postdesk report --html FILE`: the page of
# the seeded report database (report_seed.sh) and of an empty one is one
# self-contained HTML file (no script, nothing fetched, database strings
# escaped) that headless Chromium renders: the screenshot is not blank, every
# chart's <svg> in the rendered DOM has drawn elements (bars for the seeded
# data, a "no data" frame for the empty one), and the browser logs no console
# errors.  Skips (77) without PostgreSQL or Chromium (scripts/deps.sh
# installs both).
#
#   top_srcdir=. top_builddir=build tests/integration/report_html.sh

. "$(dirname "$0")/lib.sh"

bindir=$(pd_pg_bindir)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ] ||
	! command -v psql >/dev/null; then
	pd_skip_all "missing: initdb/pg_ctl/psql (run scripts/deps.sh)"
fi
if pd_is_root && ! getent passwd postgres >/dev/null; then
	pd_skip_all "missing: postgres-user"
fi
CHROMIUM=
for c in chromium chromium-browser; do
	if command -v "$c" >/dev/null; then
		CHROMIUM=$(command -v "$c")
		break
	fi
done
[ -n "$CHROMIUM" ] || pd_skip_all "missing: chromium (run scripts/deps.sh)"
pd_require_binaries
pd_init
pd_start_postgres
pd_log "PostgreSQL :$PGPORT in $T, $("$CHROMIUM" --version 2>/dev/null)"

# The charts of the page: their aria-labels, in page order.
CHARTS='["Tickets created per day, by request type", "First response time (business time)", "Resolution time (business time)", "SLA compliance by priority", "SLA compliance by customer plan", "SLA compliance by support line", "SLA compliance by request type", "Open tickets now, by support line and priority", "Customer ratings given in the period"]'

# shot NAME HTML: render HTML in headless Chromium: $T/NAME.png (1280x2400),
# $T/NAME.dom (the DOM after rendering) and $T/NAME.log (its stderr).
shot() {
	local flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
		--disable-extensions --disable-background-networking --disable-sync
		--user-data-dir="$T/chromium-$1" --enable-logging=stderr --v=0
		--window-size=1280,2400)
	HOME=$T timeout 120 "$CHROMIUM" "${flags[@]}" --screenshot="$T/$1.png" "file://$2" \
		>/dev/null 2>"$T/$1.log"
	HOME=$T timeout 120 "$CHROMIUM" "${flags[@]}" --dump-dom "file://$2" \
		>"$T/$1.dom" 2>>"$T/$1.log"
}

# png_check NAME: the screenshot's size, distinct colours and share of pixels
# that are not the page background, as "WIDTHxHEIGHT COLOURS INK%".  Python
# without extra packages: PNG chunks, zlib and the five row filters.
png_check() {
	"$PD_PYTHON" - "$T/$1.png" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), "unexpected PNG format %d/%d" % (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, ink = set(), 0
for y in range(h):
    f = raw[y * (stride + 1)]
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            row[i] = (row[i] + row[i - bpp]) & 255
    elif f == 2:
        row = bytearray((a + b) & 255 for a, b in zip(row, prev))
    elif f == 3:
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
    elif f == 4:
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:  # every 4th row is plenty for counting
        for x in range(0, stride, bpp):
            px = bytes(row[x:x + 3])
            colours.add(px)
            if px != b"\xf4\xf5\xf7":  # the page background
                ink += 1
    prev = row
print("%dx%d %d %.0f" % (w, h, len(colours), 100.0 * ink / (w * ((h + 3) // 4))))
EOF
}

# dom_check NAME: per chart <svg> of the rendered DOM, "LABEL|DRAWN|BARS|NODATA"
# (DRAWN = rect, path and line elements; BARS = rect.bar), one line each.
dom_check() {
	"$PD_PYTHON" - "$T/$1.dom" <<'EOF'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts, self.cur, self.text = [], None, False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.cur = [a.get("aria-label", ""), 0, 0, 0]
        elif self.cur is not None:
            if tag in ("rect", "path", "line"):
                self.cur[1] += 1
            if tag == "rect" and a.get("class") == "bar":
                self.cur[2] += 1
            self.text = tag == "text" and a.get("class") == "nodata"
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
    def handle_data(self, d):
        if self.cur is not None and self.text and d.strip() == "no data":
            self.cur[3] = 1
    def handle_endtag(self, tag):
        self.text = False
        if tag == "svg" and self.cur is not None:
            self.charts.append(self.cur)
            self.cur = None
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
for c in p.charts:
    print("%s|%d|%d|%d" % tuple(c))
EOF
}

# page_checks NAME HTML WANT: the checks shared by both pages; WANT is "bars"
# (every chart draws bars) or "nodata" (every chart says so).
page_checks() {
	local name=$1 html=$2 want=$3 png labels

	pd_check "$name: the page is HTML with a UTF-8 charset" \
		grep -qF '<meta charset="utf-8">' "$html"
	if grep -qiE '<script|<link|<img|<iframe|src=|url\(|@import' "$html" ||
		grep -oE 'https?://[^"'"'"' )]*' "$html" | grep -qv '^http://www.w3.org/2000/svg$'; then
		pd_fail "$name: self-contained: no script, no external resource" \
			"$(grep -noiE '<script|<link|<img|<iframe|src=|url\(|@import|https?://[^"]*' "$html" | head -5)"
	else
		pd_ok "$name: self-contained: no script, no external resource"
	fi

	shot "$name" "$html"
	if [ -s "$T/$name.png" ]; then
		pd_ok "$name: chromium wrote a screenshot"
	else
		pd_fail "$name: chromium wrote a screenshot" "$(tail -20 "$T/$name.log")"
		return
	fi
	png=$(png_check "$name") || pd_fail "$name: the PNG parses" "$png"
	pd_log "$name.png: $png (size, colours, % not background)"
	set -- $png
	pd_check_eq "$name: screenshot is 1280x2400" 1280x2400 "$1"
	if [ "${2:-0}" -gt 40 ] && [ "${3:-0}" -gt 20 ]; then
		pd_ok "$name: screenshot is not blank (>40 colours, >20% drawn)"
	else
		pd_fail "$name: screenshot is not blank (>40 colours, >20% drawn)" "got: $png"
	fi

	dom_check "$name" >"$T/$name.charts"
	labels=$(cut -d'|' -f1 "$T/$name.charts" | "$PD_PYTHON" -c 'import json, sys; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')
	if "$PD_PYTHON" -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != json.loads(sys.argv[2]))' \
		"$labels" "$CHARTS"; then
		pd_ok "$name: the rendered DOM has the nine charts in order"
	else
		pd_fail "$name: the rendered DOM has the nine charts in order" "got: $labels"
	fi
	if awk -F'|' '$2 == 0 { bad = 1 } END { exit bad }' "$T/$name.charts"; then
		pd_ok "$name: every chart svg has drawn elements"
	else
		pd_fail "$name: every chart svg has drawn elements" "$(cat "$T/$name.charts")"
	fi
	if [ "$want" = bars ]; then
		pd_check "$name: every chart draws bars, none says no data" \
			awk -F'|' '$3 == 0 || $4 == 1 { bad = 1 } END { exit bad }' "$T/$name.charts"
	else
		pd_check "$name: every chart says no data and draws no bar" \
			awk -F'|' '$3 != 0 || $4 != 1 { bad = 1 } END { exit bad }' "$T/$name.charts"
	fi
	if grep -qE 'Uncaught|ERROR:CONSOLE|CONSOLE\([0-9]+\).*[Ee]rror' "$T/$name.log"; then
		pd_fail "$name: no console errors" "$(grep -E 'Uncaught|CONSOLE' "$T/$name.log" | head -5)"
	else
		pd_ok "$name: no console errors"
	fi
}

DB=report
pd_createdb "$DB" || pd_die "createdb $DB"
CONF=$T/report.conf
pd_write_config "$CONF" db="$DB" smtp=no
pd_cli "$CONF" migrate >/dev/null || pd_die "migrate"

# ------------------------------------------------------------ empty database

pd_cli "$CONF" report --html "$T/empty.html" >"$T/empty.out"
pd_check_eq "empty: report --html exits 0" 0 $?
pd_check_eq "empty: nothing on stdout" "" "$(cat "$T/empty.out")"
page_checks empty "$T/empty.html" nodata

# ------------------------------------------------------------ seeded database

. "$(dirname "$0")/report_seed.sh"
pd_report_seed "$DB"
# database strings that must come out escaped: a plan name and a keyword
psql -X -q -v ON_ERROR_STOP=1 -U postdesk -d "$DB" >"$T/seed2.log" 2>&1 <<'EOF' ||
UPDATE tickets SET plan = '<i>VIP & "co"</i>' WHERE id = 10;
INSERT INTO events (ticket_id, actor, kind, detail)
VALUES (4, 'mailbox:support', 'ticket.classified', '{"reasons": [{"what": "priority",
	"source": "keyword", "rule": "x", "matched": "<script>alert(1)</script>",
	"field": "subject", "value": "high", "decided": true}]}');
EOF
	pd_die "seeding failed: $(cat "$T/seed2.log")"

HTML=$T/report.html
pd_cli "$CONF" report --html "$HTML" >/dev/null
pd_check_eq "30d: report --html exits 0" 0 $?
page_checks seeded "$HTML" bars
pd_check "30d: the plan name is escaped" grep -qF '&lt;i&gt;VIP &amp; &quot;co&quot;&lt;/i&gt;' "$HTML"
pd_check "30d: the keyword is escaped" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$HTML"
pd_check "30d: the headline numbers: 8 created" grep -qF '<div class="v">8</div><div class="l">tickets created</div>' "$HTML"
pd_check "30d: the common problems table lists the top keyword" grep -qF 'не работает' "$HTML"
pd_check "30d: the day chart has a bar per type and day, with the type in its title" \
	grep -qE '<title>[0-9]{2}-[0-9]{2}, refund: 1</title>' "$HTML"
pd_check "30d: the SLA chart by priority gives critical first response 50%" \
	grep -qF '<title>critical, first response met: 50%</title>' "$HTML"
pd_check "30d: the rendered DOM keeps the escaped keyword as text" \
	grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$T/seeded.dom"

# ------------------------------------------------------------ stdout, usage and failures

pd_cli "$CONF" report --since 7d --html - >"$T/stdout.html"
pd_check_eq "--html - exits 0" 0 $?
pd_check "--html - writes the page to stdout" grep -q '^<!DOCTYPE html>' "$T/stdout.html"
pd_check_eq "--html - has the nine charts" 9 "$(grep -c '<svg class="chart"' "$T/stdout.html")"
pd_check "--since 7d names the period" grep -qF '(last 7d)' "$T/stdout.html"

pd_cli "$CONF" report --json --html "$T/x.html" >/dev/null 2>&1
pd_check_eq "--json with --html exits 64" 64 $?
pd_cli "$CONF" report --html >/dev/null 2>&1
pd_check_eq "--html without a file exits 64" 64 $?
pd_cli "$CONF" report --html "$T/no/such/dir/x.html" >/dev/null
pd_check_eq "an unwritable file exits 73" 73 $?
pd_check "the error names the file" grep -qF "$T/no/such/dir/x.html: No such file" "$T/cli.err"

pd_finish
