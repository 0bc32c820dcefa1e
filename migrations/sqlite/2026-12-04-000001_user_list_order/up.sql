-- A domain's users in id order: user lists page by id (`marker`, `limit`) within a domain.
-- Without it a page was every user of the domain read and sorted (by collation) to return
-- the first few; with it, a page reads only its own rows, already in order.
CREATE INDEX users_domain_id_order ON users (domain_id, id);
