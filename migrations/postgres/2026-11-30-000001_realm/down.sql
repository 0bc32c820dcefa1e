DROP TABLE system_facts;
