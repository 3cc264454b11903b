-- 0005_kb.sql - knowledge-base articles suggested in acknowledgements.
-- (placeholder: the tables come with `postdesk kb import`)
SELECT 1;
