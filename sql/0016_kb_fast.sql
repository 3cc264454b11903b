-- 0016_kb_fast.sql - what an article's part in a suggestion needs of the
-- article alone, computed when the article is written instead of for every
-- new ticket.
--
-- The ranking (src/db/kbdb.c) counts the customer's words that an article's
-- own terms share: each keyword found as a phrase, and each title word that
-- is in no keyword.  Both were computed from the article's text in every
-- ranking; they are kept here, stemmed in the article's language, by the
-- same trigger that keeps tsv, so an import (insert or update of the
-- language, title or keywords) keeps them right, and the rows already there
-- are filled below.
ALTER TABLE kb_articles
	ADD COLUMN keyword_queries tsquery[] NOT NULL DEFAULT '{}',
	ADD COLUMN title_lexemes   text[]    NOT NULL DEFAULT '{}';
COMMENT ON COLUMN kb_articles.keyword_queries IS
	'phraseto_tsquery of each keyword in the article''s language, keywords that make an empty'
	' query (only stop words) left out; one element per keyword, duplicates kept';
COMMENT ON COLUMN kb_articles.title_lexemes IS
	'the distinct lexemes of the title in the article''s language that are in none of its keywords';

CREATE OR REPLACE FUNCTION kb_articles_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	cfg regconfig := CASE NEW.language WHEN 'ru' THEN 'pg_catalog.russian'
	                                   ELSE 'pg_catalog.english' END;
BEGIN
	NEW.tsv := setweight(to_tsvector(cfg, NEW.title), 'A')
	        || setweight(to_tsvector(cfg, array_to_string(NEW.keywords, ' ')), 'A')
	        || setweight(to_tsvector(cfg, NEW.body), 'C');
	NEW.keyword_queries := ARRAY(
		SELECT kq FROM unnest(NEW.keywords) WITH ORDINALITY AS k (kw, n),
		               phraseto_tsquery(cfg, k.kw) kq
		 WHERE numnode(kq) > 0 ORDER BY k.n);
	NEW.title_lexemes := ARRAY(
		SELECT l FROM unnest(tsvector_to_array(to_tsvector(cfg, NEW.title))) l
		 WHERE l <> ALL (tsvector_to_array(to_tsvector(cfg,
		                   array_to_string(NEW.keywords, ' '))))
		 ORDER BY l);
	RETURN NEW;
END
$$;

-- the rows already there: the trigger fills the new columns (updated_at is
-- left as it is: the articles' text does not change)
UPDATE kb_articles SET title = title;
