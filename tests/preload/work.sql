-- work.sql: 100k rows in one table, 50k in another, an index, joins and
-- aggregates (sqlite3 reads it on standard input).
CREATE TABLE a(id INTEGER PRIMARY KEY, k INTEGER, s TEXT);
CREATE TABLE b(id INTEGER PRIMARY KEY, k INTEGER, t TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO a SELECT x, x % 1000, printf('row-%d-%s', x, substr('abcdefghij', 1 + x % 10)) FROM c;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000)
INSERT INTO b SELECT x, x % 777, printf('b%08d', x * 7) FROM c;
CREATE INDEX ak ON a(k);
CREATE INDEX bk ON b(k);
SELECT count(*), sum(a.id % 97), max(b.t) FROM a JOIN b ON a.k = b.k WHERE a.id < 20000;
SELECT k, count(*), group_concat(substr(s, 1, 8), ',') FROM a WHERE k < 3 GROUP BY k ORDER BY k;
SELECT b.k, count(DISTINCT a.s) FROM b LEFT JOIN a ON a.k = b.k WHERE b.id % 5000 = 0 GROUP BY b.k ORDER BY b.k;
UPDATE a SET s = s || '-updated' WHERE id % 3 = 0;
DELETE FROM b WHERE id % 2 = 0;
SELECT count(*), sum(length(s)) FROM a;
SELECT count(*) FROM b;
