DROP INDEX users_domain_id_order;
