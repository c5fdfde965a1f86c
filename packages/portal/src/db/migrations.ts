import type { Database } from './database.ts'

/** Schema versions, applied in order, each once, each in its own transaction. Never edit one that shipped. */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'accounts',
    sql: `
      CREATE TABLE accounts (
        id uuid PRIMARY KEY,
        email text NOT NULL UNIQUE,
        email_verified_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE email_tokens (
        token_hash text PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        purpose text NOT NULL CHECK (purpose IN ('verify', 'recover')),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      );
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        to_address text NOT NULL,
        subject text NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        last_error text
      );
      CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
      CREATE TABLE sessions (
        id_hash text PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        -- 'setup': came through an email link, may only add a passkey; 'full': signed in with a passkey.
        level text NOT NULL CHECK (level IN ('setup', 'full')),
        csrf text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        reauth_at timestamptz
      );
      CREATE TABLE passkeys (
        id text PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        public_key bytea NOT NULL,
        counter bigint NOT NULL,
        transports text[] NOT NULL DEFAULT '{}',
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      );
      CREATE INDEX passkeys_account ON passkeys (account_id);
      CREATE TABLE webauthn_challenges (
        id text PRIMARY KEY,
        account_id uuid REFERENCES accounts(id) ON DELETE CASCADE,
        purpose text NOT NULL,
        challenge text NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'nodes',
    sql: `
      CREATE TABLE enrollment_codes (
        code_hash text PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        roles text[] NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE enrollment_challenges (
        id uuid PRIMARY KEY,
        code_hash text NOT NULL REFERENCES enrollment_codes(code_hash) ON DELETE CASCADE,
        peer_id text NOT NULL,
        nonce text NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      );
      -- A peer id is bound to one account for good: the primary key makes a second claim fail.
      CREATE TABLE nodes (
        peer_id text PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id),
        roles text[] NOT NULL,
        public_addrs text[] NOT NULL DEFAULT '{}',
        coordinator_approved boolean NOT NULL DEFAULT false,
        activated_at timestamptz NOT NULL DEFAULT now(),
        cert_expires_at timestamptz NOT NULL,
        revoked_at timestamptz
      );
      CREATE INDEX nodes_account ON nodes (account_id);
    `,
  },
  {
    version: 3,
    name: 'wallet',
    sql: `
      CREATE TABLE deposits (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id),
        peer_id text NOT NULL,
        credits bigint NOT NULL CHECK (credits > 0),
        sats bigint NOT NULL CHECK (sats > 0),
        payment_hash text NOT NULL UNIQUE,
        payment_request text NOT NULL,
        state text NOT NULL CHECK (state IN ('open', 'paid', 'canceled')),
        created_at timestamptz NOT NULL DEFAULT now(),
        paid_at timestamptz,
        -- Signed only once the Lightning node reports the invoice settled.
        grant_id uuid UNIQUE,
        grant_cert text
      );
      CREATE INDEX deposits_open ON deposits (id) WHERE state = 'open';
      CREATE INDEX deposits_peer ON deposits (peer_id);
      CREATE TABLE withdrawals (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id),
        peer_id text NOT NULL,
        credits bigint NOT NULL CHECK (credits > 0),
        sats bigint NOT NULL CHECK (sats > 0),
        payment_request text NOT NULL,
        payment_hash text NOT NULL UNIQUE,
        state text NOT NULL CHECK (state IN ('awaiting_proposal', 'paying', 'paid', 'failed')),
        expires_at timestamptz NOT NULL,
        proposal_hash text UNIQUE,
        proposal text,
        agreement text,
        failure text,
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz
      );
      CREATE INDEX withdrawals_paying ON withdrawals (id) WHERE state = 'paying';
      -- The portal's own credit chain: agreements to withdrawals, one block per seq.
      CREATE TABLE portal_chain (
        seq integer PRIMARY KEY,
        hash text NOT NULL UNIQUE,
        block text NOT NULL
      );
    `,
  },
]

/** Applies the migrations this database hasn't seen yet. Safe to run at every start. */
export async function migrate(db: Database): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
  const done = new Set(
    (await db.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
  )
  const applied: number[] = []
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue
    const ran = await db.transaction(async (tx) => {
      // Two portals starting on one server: the lock makes the second wait and then see it done.
      await tx.query('SELECT pg_advisory_xact_lock(4310)')
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version])
      if (seen.length > 0) return false
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt)
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      return true
    })
    if (ran) applied.push(m.version)
  }
  return applied
}

/** Statements of a migration; ours hold no semicolons inside literals or bodies. */
function splitStatements(sql: string): string[] {
  return sql
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
}
