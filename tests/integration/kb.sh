#!/bin/bash
# tests/integration/kb.sh - knowledge-base answers in the acknowledgement,
# end to end: `postdesk kb import` of a small ru/en article set, the ranking
# on it (`postdesk kb search`), acknowledgements that list the matching
# articles (Russian for a Russian mail, English for an English one, nothing
# for an unrelated mail), ticket_kb rows and kb.suggested events, re-import
# after a file is deleted or changed, and bad files that change nothing;
# then the shipped articles (conf/kb) against the realistic mails of
# tests/data/classify, with the precision and recall of the suggestions.
#
#   top_srcdir=. top_builddir=build tests/integration/kb.sh

. "$(dirname "$0")/lib.sh"

MKMAIL="$PD_PYTHON $PD_LIB_DIR/mkmail.py"

pd_require_servers
pd_require_binaries
pd_init
pd_start_postgres
pd_start_dovecot kb
pd_start_smtp_sink
pd_log "PostgreSQL :$PGPORT  Dovecot :$PD_IMAP_PORT  SMTP sink :$PD_SMTP_PORT  in $T"

DB=kb
CONF=$T/kb.conf
KB=$T/articles
pd_createdb "$DB" || pd_die "createdb $DB"
pd_write_config "$CONF" db="$DB" user=kb
pd_cli "$CONF" migrate >/dev/null || pd_die "migrate $DB"

q() { pd_psql "$DB" "$1"; }

# header FILE NAME / body FILE, as in outbound.sh
header() {
	"$PD_PYTHON" - "$1" "$2" <<-'PY'
		import email, email.policy, sys
		m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
		v = m[sys.argv[2]]
		print("" if v is None else str(v))
	PY
}
body() {
	"$PD_PYTHON" - "$1" <<-'PY'
		import email, email.policy, sys
		m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
		print(m.get_body(("plain",)).get_content())
	PY
}
# ack_to ADDRESS: the sink file of the acknowledgement sent to ADDRESS
ack_to() {
	local f
	for f in $(grep -lE '^X-Postdesk-Kind: ack' "$PD_SINK_DIR"/*.eml 2>/dev/null); do
		grep -qi "^rcpt.*$1" "${f%.eml}.env" && echo "$f" && return
	done
}

# kb import DIR: status in $RC, stdout in $OUT, stderr in $ERR
import() {
	OUT=$("$top_builddir/postdesk" -c "$CONF" kb import "$1" 2>"$T/import.err")
	RC=$?
	ERR=$(cat "$T/import.err")
}

# shown TEXT [--lang L]: the slugs an acknowledgement would list, in order
shown() {
	local text=$1
	shift
	pd_cli "$CONF" kb search "$@" "$text" | awk '$1 ~ /^[0-9]+$/ && NF >= 4 { print $4 }' |
		paste -sd' '
}

# ------------------------------------------------------------------ the articles

mkdir -p "$KB/en" "$KB/ru" "$KB/misc"
cat >"$KB/en/reset-password.md" <<'EOF'
Title: Resetting a forgotten password
Keywords: password, forgot password, reset, login, sign in, locked out
URL: https://help.example.com/en/reset-password

Click "Forgot password?" on the login page and follow the link we send.
EOF
cat >"$KB/en/shipping-labels.md" <<'EOF'
# Printing shipping labels (error 502)

Batches of more than 300 parcels are generated in the background: wait two
minutes and download the batch under Shipping > Label batches, or print
the labels in smaller batches.
EOF
cat >"$KB/en/invoices.txt" <<'EOF'
Title: Invoices and refunds
Keywords: invoice, refund, billing, wrong amount

Reply with the invoice number and what is wrong.
EOF
cat >"$KB/en/webhooks.md" <<'EOF'
Title: Webhooks are not delivered
Keywords: webhook, webhooks, callback, endpoint

Check that your endpoint answers 200 within ten seconds.
EOF
cat >"$KB/ru/parol.md" <<'EOF'
Title: Как восстановить забытый пароль
Keywords: пароль, забыл пароль, восстановить пароль, сброс пароля, не могу войти
URL: https://help.example.com/ru/reset-password

Нажмите «Забыли пароль?» на странице входа и перейдите по ссылке из письма.
EOF
cat >"$KB/ru/wifi.md" <<'EOF'
Title: Гостевой Wi-Fi в офисе
Keywords: wi-fi, интернет, офис, гости

Сеть «Guest», пароль выдаёт администратор на ресепшене.
EOF
cat >"$KB/ru/etiketki.md" <<'EOF'
Title: Печать транспортных этикеток
Keywords: этикетки, печать этикеток, ошибка 502, посылки

Разделите партию на части до 300 посылок.
EOF
# language from the name's infix, outside a language folder
cat >"$KB/misc/scheta.ru.md" <<'EOF'
# Счета и возврат денег

Keywords are no header here: the body starts with the heading. Если сумма в
счёте неверна, ответьте на это письмо, указав номер счёта.
EOF

import "$KB"
pd_check_eq "import: exits 0" 0 "$RC"
pd_check_eq "import: says what it did" "8 articles in $KB: 8 added, 0 updated, 0 unchanged, 0 removed" "$OUT"
pd_check_eq "import: 8 articles, 4 ru and 4 en" "8 4 4" \
	"$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE language = 'ru') || ' ' ||
	         count(*) FILTER (WHERE language = 'en') FROM kb_articles")"
pd_check_eq "import: slug, language and title from '# Title' and the .ru. infix" \
	"ru|Счета и возврат денег" \
	"$(q "SELECT language || '|' || title FROM kb_articles WHERE slug = 'misc/scheta.ru'")"
pd_check_eq "import: keywords and URL kept" \
	"{password,\"forgot password\",reset,login,\"sign in\",\"locked out\"}|https://help.example.com/en/reset-password" \
	"$(q "SELECT keywords::text || '|' || url FROM kb_articles WHERE slug = 'en/reset-password'")"
pd_check_eq "import: the search vector is filled" "0" \
	"$(q "SELECT count(*) FROM kb_articles WHERE tsv = ''::tsvector")"
import "$KB"
pd_check_eq "import again: nothing changes" "8 articles in $KB: 0 added, 0 updated, 8 unchanged, 0 removed" "$OUT"
pd_cli "$CONF" kb list --json >"$T/list.json"
pd_check_eq "kb list --json: every article, with its fields" \
	"8 en/invoices en Invoices and refunds 0" \
	"$(pd_json "$T/list.json" "' '.join([str(len(d)), d[0]['slug'], d[0]['language'], d[0]['title'], str(d[0]['suggested'])])")"
pd_check "kb list: a table" bash -c "'$top_builddir/postdesk' -c '$CONF' kb list | grep -q '^ru/parol '"

# ------------------------------------------------------------------ ranking

pd_check_eq "rank: a Russian forgotten password -> the Russian article only" "ru/parol" \
	"$(shown 'Забыл пароль, не могу войти в личный кабинет')"
pd_check_eq "rank: an English forgotten password -> the English article" "en/reset-password" \
	"$(shown 'I forgot my password and cannot sign in')"
pd_check_eq "rank: the password article ranks above the Wi-Fi one that mentions a password" \
	"ru/parol" \
	"$(pd_cli "$CONF" kb search 'пароль' | awk '$3 == "ru" { print $4; exit }')"
pd_check_eq "rank: labels and error 502, English" "en/shipping-labels" \
	"$(shown 'Cannot print shipping labels: error 502 since this morning')"
pd_check_eq "rank: labels, Russian" "ru/etiketki" \
	"$(shown 'Не печатаются этикетки, ошибка 502')"
pd_check_eq "rank: two topics in one mail -> both articles" "en/reset-password en/invoices" \
	"$(shown 'Password reset does not work, and the invoice has the wrong amount' | tr ' ' '\n' | sort -r | paste -sd' ')"
pd_check_eq "rank: a Russian mail with no Russian match falls back to English" "en/webhooks" \
	"$(shown 'Не приходят webhook на наш endpoint' --lang ru)"
pd_check_eq "rank: an unrelated mail -> nothing" "" \
	"$(shown 'Какая у вас сегодня погода? Hello, how are you?')"
pd_check_eq "rank: a weak match (one body word) is not shown" "" \
	"$(shown 'Please reply about the number')"
pd_check "kb search: shows the section" \
	bash -c "'$top_builddir/postdesk' -c '$CONF' kb search 'forgot password' | grep -q '  \* Resetting a forgotten password'"

# ------------------------------------------------------------------ acknowledgements

$MKMAIL --from 'Иван Петров <ivan@customer.example>' --subject 'Забыл пароль' \
	--charset koi8-r --message-id '<kb-ru@customer.example>' \
	--body $'Здравствуйте!\n\nЯ забыл пароль и не могу войти в личный кабинет.\n\nИван' \
	>"$T/ru.eml"
$MKMAIL --from 'Sarah Connor <sarah@customer.example>' \
	--subject 'Cannot print shipping labels' --message-id '<kb-en@customer.example>' \
	--body $'Hello,\n\nthe "Print labels" button shows error 502 for our batch of 340 parcels.\n' \
	>"$T/en.eml"
$MKMAIL --from 'Tom Becker <tom@customer.example>' --subject 'Catalogue' \
	--message-id '<kb-none@customer.example>' \
	--body $'Hi,\n\ndo you have a printed catalogue you could send us?\n' >"$T/none.eml"
for m in ru en none; do pd_deliver kb "$T/$m.eml"; done
pd_daemon_once "$CONF" "$T/daemon.log"
pd_check_eq "acks: postdeskd --once exits 0" 0 "$?"

ack_ru=$(ack_to ivan@customer.example)
ack_en=$(ack_to sarah@customer.example)
ack_none=$(ack_to tom@customer.example)
pd_check "acks: all three sent" test -n "$ack_ru" -a -n "$ack_en" -a -n "$ack_none"
text_ru=$(body "$ack_ru")
text_en=$(body "$ack_en")
text_none=$(body "$ack_none")
case $text_ru in
*"Возможно, ответ уже есть в этих статьях:"*"  * Как восстановить забытый пароль"*"    https://help.example.com/ru/reset-password"*)
	pd_ok "ack ru: lists the Russian password article with its link" ;;
*) pd_fail "ack ru: lists the Russian password article with its link" "$text_ru" ;;
esac
case $text_ru in
*"Resetting a forgotten password"* | *"These articles"*)
	pd_fail "ack ru: no English article or heading" "$text_ru" ;;
*) pd_ok "ack ru: no English article or heading" ;;
esac
case $text_en in
*"These articles may help you right away:"*"  * Printing shipping labels (error 502)"*"    Batches of more than 300 parcels"*)
	pd_ok "ack en: lists the labels article with its first lines" ;;
*) pd_fail "ack en: lists the labels article with its first lines" "$text_en" ;;
esac
case $text_none in
*"These articles"* | *"  * "*) pd_fail "ack unrelated: no article section" "$text_none" ;;
*) pd_ok "ack unrelated: no article section" ;;
esac
case $text_none in
*"as soon as possible."$'\n\n\n'"If you would like"*) pd_ok "ack unrelated: just an empty line left" ;;
*) pd_fail "ack unrelated: just an empty line left" "$text_none" ;;
esac

t_ru=$(q "SELECT id FROM tickets WHERE requester_address = 'ivan@customer.example'")
t_en=$(q "SELECT id FROM tickets WHERE requester_address = 'sarah@customer.example'")
t_none=$(q "SELECT id FROM tickets WHERE requester_address = 'tom@customer.example'")
pd_check_eq "ticket_kb: the Russian ticket's suggestion, position 1" "ru/parol|1" \
	"$(q "SELECT string_agg(a.slug || '|' || k.position, ' ' ORDER BY k.position)
	        FROM ticket_kb k JOIN kb_articles a ON a.id = k.article_id WHERE k.ticket_id = $t_ru")"
pd_check_eq "ticket_kb: the English ticket's suggestion" "en/shipping-labels" \
	"$(q "SELECT string_agg(a.slug, ' ' ORDER BY k.position)
	        FROM ticket_kb k JOIN kb_articles a ON a.id = k.article_id WHERE k.ticket_id = $t_en")"
pd_check_eq "ticket_kb: a rank is recorded" "t" \
	"$(q "SELECT bool_and(rank >= 0.45) FROM ticket_kb")"
pd_check_eq "ticket_kb: nothing for the unrelated ticket" "0" \
	"$(q "SELECT count(*) FROM ticket_kb WHERE ticket_id = $t_none")"
pd_check_eq "event: kb.suggested with language and slugs" "ru ru/parol" \
	"$(q "SELECT detail->>'language' || ' ' || (detail->'articles'->0->>'slug')
	        FROM events WHERE ticket_id = $t_ru AND kind = 'kb.suggested'")"
pd_check_eq "event: kb.suggested carries the rank" "t" \
	"$(q "SELECT (detail->'articles'->0->>'rank')::numeric > 0
	        FROM events WHERE ticket_id = $t_en AND kind = 'kb.suggested'")"
pd_check_eq "event: none for the unrelated ticket" "0" \
	"$(q "SELECT count(*) FROM events WHERE ticket_id = $t_none AND kind = 'kb.suggested'")"
pd_check "log: one line per suggestion" grep -q "ticket=$t_ru action=kb-suggested articles=ru/parol:" \
	"$T/daemon.log"
pd_cli "$CONF" kb list --json >"$T/list.json"
pd_check_eq "kb list --json: counts the suggestion" "1" \
	"$(pd_json "$T/list.json" "[a['suggested'] for a in d if a['slug'] == 'ru/parol'][0]")"

# ------------------------------------------------------------------ re-import

rm "$KB/en/invoices.txt"
sed -i 's/Printing shipping labels (error 502)/Printing shipping labels (error 502, timeouts)/' \
	"$KB/en/shipping-labels.md"
import "$KB"
pd_check_eq "re-import: a deleted file is removed, a changed one updated" \
	"7 articles in $KB: 0 added, 1 updated, 6 unchanged, 1 removed" "$OUT"
pd_check_eq "re-import: the article is gone" "0" \
	"$(q "SELECT count(*) FROM kb_articles WHERE slug = 'en/invoices'")"
pd_check_eq "re-import: the new title is searched" "en/shipping-labels" \
	"$(shown 'timeouts when printing')"
pd_check_eq "re-import: the ticket keeps its suggestion" "1" \
	"$(q "SELECT count(*) FROM ticket_kb WHERE ticket_id = $t_en")"

# ------------------------------------------------------------------ bad files

before=$(q "SELECT string_agg(slug || title || updated_at::text, ',' ORDER BY slug) FROM kb_articles")
cp "$KB/en/reset-password.md" "$T/keep.md"
printf 'Title: Changed, but the import must not happen\n\nx\n' >"$KB/en/reset-password.md"
printf 'Keywords: one, two\n\nno title here\n' >"$KB/en/untitled.md"
printf 'Title: A\n\n\xcf\xe0\xf0\xee\xeb\xfc\n' >"$KB/ru/cp1251.txt"
import "$KB"
pd_check_eq "bad files: exit 65" 65 "$RC"
pd_check "bad files: the missing title is named FILE:LINE" \
	grep -qF "$KB/en/untitled.md:3: no title" "$T/import.err"
pd_check "bad files: non-UTF-8 is named FILE:LINE" \
	grep -qF "$KB/ru/cp1251.txt:3: not UTF-8" "$T/import.err"
pd_check "bad files: says nothing was imported" grep -q "2 problems in .*: nothing imported" \
	"$T/import.err"
pd_check_eq "bad files: nothing printed on stdout" "" "$OUT"
pd_check_eq "bad files: the database is unchanged" "$before" \
	"$(q "SELECT string_agg(slug || title || updated_at::text, ',' ORDER BY slug) FROM kb_articles")"
rm "$KB/en/untitled.md" "$KB/ru/cp1251.txt"
cp "$T/keep.md" "$KB/en/reset-password.md"
import "$T/no-such-folder"
pd_check_eq "no such folder: exit 65" 65 "$RC"

# an empty folder empties the knowledge base: no section, one cheap query
mkdir -p "$T/empty"
import "$T/empty"
pd_check_eq "empty folder: every article removed" \
	"0 articles in $T/empty: 0 added, 0 updated, 0 unchanged, 7 removed" "$OUT"
pd_check_eq "empty folder: suggestions of removed articles go with them" "0" \
	"$(q "SELECT count(*) FROM ticket_kb")"
pd_check_eq "empty folder: the events stay" "2" \
	"$(q "SELECT count(*) FROM events WHERE kind = 'kb.suggested'")"
$MKMAIL --from 'Anna <anna@customer.example>' --subject 'Forgot my password' \
	--message-id '<kb-empty@customer.example>' --body 'I forgot my password.' >"$T/empty.eml"
pd_deliver kb "$T/empty.eml"
pd_daemon_once "$CONF" "$T/daemon2.log"
ack_empty=$(ack_to anna@customer.example)
pd_check "empty knowledge base: the ack is sent" test -n "$ack_empty"
case $(body "$ack_empty") in
*"These articles"*) pd_fail "empty knowledge base: no section" ;;
*) pd_ok "empty knowledge base: no section" ;;
esac

# ------------------------------------------- the shipped articles, real mail

# The articles of conf/kb against the realistic support mails of
# tests/data/classify (expected.tsv names the article a person would point
# each customer to, "-" for none): every mail goes through postdeskd as a
# new ticket and its ticket_kb rows are what its acknowledgement listed.
# Prints the precision (suggested articles that are right) and the recall
# (mails with a right article that got one of them).
SET_DB=kbset
SET_CONF=$T/kbset.conf
pd_createdb "$SET_DB" || pd_die "createdb $SET_DB"
pd_write_config "$SET_CONF" db="$SET_DB" user=kb
pd_cli "$SET_CONF" migrate >/dev/null || pd_die "migrate $SET_DB"
"$top_builddir/postdesk" -c "$SET_CONF" kb import "$top_srcdir/conf/kb" >/dev/null ||
	pd_die "kb import conf/kb"
n_set=0
for f in "$top_srcdir"/tests/data/classify/*.eml; do
	pd_deliver kb "$f" && n_set=$((n_set + 1))
done
pd_daemon_once "$SET_CONF" "$T/daemon-set.log"
pd_check_eq "real mail: postdeskd --once exits 0" 0 "$?"
pd_psql "$SET_DB" "SELECT m.message_id, coalesce(string_agg(a.slug, ',' ORDER BY k.position), '-')
	    FROM messages m LEFT JOIN ticket_kb k ON k.ticket_id = m.ticket_id
	    LEFT JOIN kb_articles a ON a.id = k.article_id
	   WHERE m.direction = 'in' GROUP BY m.message_id" >"$T/set.got"
"$PD_PYTHON" - "$top_srcdir/tests/data/classify/expected.tsv" "$T/set.got" >"$T/set.out" <<-'PY'
	import sys
	want = {}
	for line in open(sys.argv[1], encoding="utf-8"):
	    if line.startswith("#") or not line.strip():
	        continue
	    f, _type, kb = line.rstrip("\n").split("\t")
	    want[f[:-4] + ".classify@example.net"] = set() if kb == "-" else set(kb.split(","))
	got = {}
	for line in open(sys.argv[2], encoding="utf-8"):
	    mid, slugs = line.rstrip("\n").split("|")
	    got[mid] = [] if slugs == "-" else slugs.split(",")
	shown = right = wanted = found = 0
	for mid, w in sorted(want.items()):
	    g = got.get(mid)
	    if g is None:
	        print("# missing ticket for", mid)
	        continue
	    shown += len(g)
	    right += sum(1 for s in g if s in w)
	    if w:
	        wanted += 1
	        found += any(s in w for s in g)
	    if set(g) - w or (w and not set(g) & w):
	        print("# %s: suggested %s, want %s" % (mid.split(".")[0], ",".join(g) or "-",
	                                             ",".join(sorted(w)) or "-"))
	p = right / shown if shown else 1.0
	r = found / wanted if wanted else 1.0
	print("# kb on %d real mails: %d suggested, %d right: precision %.2f; "
	      "%d of %d mails with an article got it: recall %.2f" %
	      (len(got), shown, right, p, found, wanted, r))
	print("RESULT %d %.2f %.2f" % (len(got), p, r))
	PY
grep '^#' "$T/set.out"
read -r _ set_n set_p set_r < <(grep '^RESULT' "$T/set.out")
pd_check_eq "real mail: every mail became a ticket" "$n_set" "$set_n"
pd_check "real mail: kb precision >= 0.9 (is $set_p)" awk -v p="$set_p" 'BEGIN { exit !(p >= 0.9) }'
pd_check "real mail: kb recall >= 0.7 (is $set_r)" awk -v r="$set_r" 'BEGIN { exit !(r >= 0.7) }'

pd_finish
