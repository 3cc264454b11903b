-- 0005_kb.sql - knowledge-base articles suggested in acknowledgements.
-- `postdesk kb import DIR` keeps kb_articles equal to the articles in DIR; a
-- new ticket's acknowledgement lists up to three that match the customer's
-- mail, and ticket_kb records which (the kb.suggested event keeps the slugs
-- and ranks even after an article is removed).

CREATE TABLE kb_articles (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	slug        text NOT NULL UNIQUE,      -- file path relative to DIR, without extension
	language    text NOT NULL CHECK (language IN ('en', 'ru')),
	title       text NOT NULL CHECK (title <> ''),
	keywords    text[] NOT NULL DEFAULT '{}',
	body        text NOT NULL DEFAULT '',
	url         text,                      -- from a "URL:" header; NULL = none
	-- title and keywords weigh A, the body C, stemmed in the article's language
	-- (set by the trigger below: array_to_string is only STABLE, so this
	-- cannot be a generated column)
	tsv         tsvector NOT NULL DEFAULT ''::tsvector,
	imported_at timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_articles_tsv_idx ON kb_articles USING gin (tsv);

CREATE FUNCTION kb_articles_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	cfg regconfig := CASE NEW.language WHEN 'ru' THEN 'pg_catalog.russian'
	                                   ELSE 'pg_catalog.english' END;
BEGIN
	NEW.tsv := setweight(to_tsvector(cfg, NEW.title), 'A')
	        || setweight(to_tsvector(cfg, array_to_string(NEW.keywords, ' ')), 'A')
	        || setweight(to_tsvector(cfg, NEW.body), 'C');
	RETURN NEW;
END
$$;
CREATE TRIGGER kb_articles_tsv BEFORE INSERT OR UPDATE OF language, title, keywords, body
	ON kb_articles FOR EACH ROW EXECUTE FUNCTION kb_articles_tsv();

-- What a ticket's acknowledgement suggested, best first (position 1..3).
CREATE TABLE ticket_kb (
	ticket_id  bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	article_id bigint NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
	rank       real NOT NULL,
	position   integer NOT NULL CHECK (position >= 1),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ticket_id, article_id)
);
CREATE INDEX ticket_kb_article_idx ON ticket_kb (article_id);
