-- The PostgreSQL journal's first schema: the tables of the SQLite journal
-- (runs, records, locks) with who created a run and where, plus the claims
-- (leases with fencing tokens) and the shared state key.
CREATE TABLE rebind_runs (
	n              bigserial PRIMARY KEY,
	id             text NOT NULL UNIQUE,
	nonce          text NOT NULL UNIQUE,
	runbook        text NOT NULL,
	runbook_digest text NOT NULL,
	plan_digest    text NOT NULL,
	author         text NOT NULL,
	dir            text NOT NULL,
	os_user        text NOT NULL,
	host           text NOT NULL,
	inputs         bytea,
	plan           bytea,
	status         text NOT NULL,
	error          text NOT NULL,
	created        bigint NOT NULL,
	updated        bigint NOT NULL
);
-- A saved plan is applied once, from whichever machine.
CREATE UNIQUE INDEX rebind_runs_plan_digest ON rebind_runs (plan_digest) WHERE plan_digest <> '';

CREATE TABLE rebind_records (
	seq     bigserial PRIMARY KEY,
	uid     text NOT NULL UNIQUE, -- chosen by the writer: a retried commit writes once
	run_id  text NOT NULL REFERENCES rebind_runs (id),
	time    bigint NOT NULL,
	kind    text NOT NULL,
	step    text NOT NULL,
	attempt integer NOT NULL,
	data    bytea,
	error   text NOT NULL,
	fence   bigint NOT NULL -- the fencing token the write carried (0: none)
);
CREATE INDEX rebind_records_run ON rebind_records (run_id, seq);

CREATE TABLE rebind_locks (
	object   text PRIMARY KEY,
	run_id   text NOT NULL REFERENCES rebind_runs (id),
	acquired bigint NOT NULL
);
CREATE INDEX rebind_locks_run ON rebind_locks (run_id);

-- Fencing tokens grow across every claim of every run.
CREATE SEQUENCE rebind_fence;
CREATE TABLE rebind_claims (
	run_id   text PRIMARY KEY REFERENCES rebind_runs (id),
	token    bigint NOT NULL,
	os_user  text NOT NULL,
	host     text NOT NULL,
	pid      integer NOT NULL,
	acquired timestamptz NOT NULL,
	expires  timestamptz NOT NULL -- the server's clock: one clock for every machine
);

CREATE TABLE rebind_state_key (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	key bytea NOT NULL
);
