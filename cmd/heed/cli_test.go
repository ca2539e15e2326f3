package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heed-dialer/heed/internal/account"
	"github.com/heed-dialer/heed/internal/audit"
	"github.com/heed-dialer/heed/internal/dbtest"
)

// runHeed runs one heed command with the given environment.
func runHeed(env map[string]string, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	err := m.Run(context.Background(), args)
	return out.String(), errb.String(), err
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestCLIUsage(t *testing.T) {
	t.Parallel()
	out, _, err := runHeed(nil, "version")
	require.NoError(t, err)
	require.Equal(t, "heed dev\n", out)

	_, stderr, err := runHeed(nil, "frobnicate")
	require.ErrorIs(t, err, errUsage)
	require.Equal(t, 2, exitCode(err))
	require.Contains(t, stderr, "heed serve")

	_, _, err = runHeed(nil, "user", "add", "--email", "a@b.test")
	require.ErrorIs(t, err, errUsage, "a missing role is a usage error")

	_, _, err = runHeed(nil, "migrate")
	require.ErrorContains(t, err, "DATABASE_URL")
}

func TestCLIMigrateAndServeOnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": dbtest.EmptyURL(t)}

	_, _, err := runHeed(env, "serve")
	require.ErrorContains(t, err, "database schema is not up to date: run `heed migrate`")
	_, _, err = runHeed(env, "user", "add", "--email", "a@b.test", "--role", "admin")
	require.ErrorContains(t, err, "heed migrate")

	out, _, err := runHeed(env, "migrate")
	require.NoError(t, err)
	require.Contains(t, out, "applied")
	out, _, err = runHeed(env, "migrate")
	require.NoError(t, err)
	require.Equal(t, "database is up to date\n", out, "migrate is idempotent")
}

func TestCLIUsersAndContacts(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	countContacts := func() int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
		return n
	}

	out, _, err := runHeed(env, "user", "add", "--email", "pat@firm.test", "--role", "paralegal")
	require.NoError(t, err)
	require.Contains(t, out, "created pat@firm.test (paralegal)")
	require.Regexp(t, `password: \S{10,}`, out)
	_, _, err = runHeed(env, "user", "add", "--email", "pat@firm.test", "--role", "admin")
	require.ErrorContains(t, err, "already exists")
	_, _, err = runHeed(env, "user", "add", "--email", "x@firm.test", "--role", "janitor")
	require.ErrorIs(t, err, errUsage)

	bad := writeFile(t, "bad.csv", "name,phone,state\nAnn,860-555-0101,CT\nBob,not-a-number,CT\nCid,203-555-0103,Connecticut\n")
	_, stderr, err := runHeed(env, "import", "contacts", "--list", "court", bad)
	require.ErrorContains(t, err, "2 row(s) rejected; nothing was imported")
	require.Contains(t, stderr, "bad.csv:3: phone \"not-a-number\" is not a valid phone number")
	require.Contains(t, stderr, "bad.csv:4: state \"Connecticut\" is not a two-letter US state code")
	require.Zero(t, countContacts())

	malformed := writeFile(t, "malformed.csv", "name,phone\nAnn,\"860-555-0101\nBob,203-555-0102\n")
	_, stderr, err = runHeed(env, "import", "contacts", "--list", "court", malformed)
	require.Error(t, err)
	require.Contains(t, stderr, "malformed CSV")
	require.Zero(t, countContacts())

	good := writeFile(t, "good.csv", "name,phone,state,zip,external_ref\nAnn,860-555-0101,CT,06103,M-1\nBob,(203) 555-0102,CT,06510-1234,M-2\n")
	// A dry run, and a file with other headers mapped, write nothing.
	out, _, err = runHeed(env, "import", "contacts", "--list", "court", "--dry-run", good)
	require.NoError(t, err)
	require.Contains(t, out, `dry run, nothing written: 2 rows read, importing would add 2 contacts to list "court"`)
	other := writeFile(t, "other.csv", "Client,Cell\nAnn,860-555-0101\n")
	out, _, err = runHeed(env, "import", "contacts", "--list", "court", "--dry-run", "--map", "Client=name,Cell=phone", other)
	require.NoError(t, err)
	require.Contains(t, out, "importing would add 1 contacts")
	_, _, err = runHeed(env, "import", "contacts", "--list", "court", "--map", "Client", other)
	require.ErrorIs(t, err, errUsage)
	_, _, err = runHeed(env, "import", "contacts", "--list", "court", writeFile(t, "contacts.pdf", "x"))
	require.ErrorIs(t, err, errUsage)
	// A name without an extension is CSV, unless --format says otherwise.
	bare := writeFile(t, "contacts", "name,phone\nAnn,860-555-0101\n")
	out, _, err = runHeed(env, "import", "contacts", "--list", "court", "--dry-run", bare)
	require.NoError(t, err)
	require.Contains(t, out, "importing would add 1 contacts")
	_, stderr, err = runHeed(env, "import", "contacts", "--list", "court", "--dry-run", "--format", "xlsx", bare)
	require.Error(t, err)
	require.Contains(t, stderr, "not a readable XLSX file")
	require.Zero(t, countContacts())
	out, _, err = runHeed(env, "import", "contacts", "--list", "court", good)
	require.NoError(t, err)
	require.Contains(t, out, `imported 2 contacts into list "court"`)
	require.Equal(t, 2, countContacts())

	// The same numbers again are refused, whole.
	_, stderr, err = runHeed(env, "import", "contacts", "--list", "court", good)
	require.Error(t, err)
	require.True(t, strings.Contains(stderr, "already on list"), stderr)
	require.Equal(t, 2, countContacts())
	// Unless they are skipped.
	out, _, err = runHeed(env, "import", "contacts", "--list", "court", "--skip-existing", good)
	require.NoError(t, err)
	require.Contains(t, out, `imported 0 contacts into list "court"`)
	require.Contains(t, out, "skipped 2 already on the list")
	require.Equal(t, 2, countContacts())
	// Or updated: Bob's ZIP changes, a third contact is added.
	changed := writeFile(t, "changed.csv", "name,phone,zip\nAnn,860-555-0101,06103\nBob,(203) 555-0102,06511\nCal,203-555-0103,\n")
	out, _, err = runHeed(env, "import", "contacts", "--list", "court", "--update-existing", "--dry-run", changed)
	require.NoError(t, err)
	require.Contains(t, out, `importing would add 1 contacts to list "court"`)
	require.Contains(t, out, changed+":3: changes zip\nwould update 1 already on the list, 1 unchanged\n")
	require.Equal(t, 2, countContacts())
	out, _, err = runHeed(env, "import", "contacts", "--list", "court", "--update-existing", changed)
	require.NoError(t, err)
	require.Contains(t, out, `imported 1 contacts into list "court"`)
	require.Contains(t, out, "updated 1 already on the list, 1 unchanged")
	require.Equal(t, 3, countContacts())
	_, _, err = runHeed(env, "import", "contacts", "--list", "court", "--update-existing", "--skip-existing", changed)
	require.ErrorIs(t, err, errUsage)

	out, _, err = runHeed(env, "dnc", "add", "860 555 0101")
	require.NoError(t, err)
	require.Contains(t, out, "+18605550101 is on the internal do-not-call list")
	out, _, err = runHeed(env, "dnc", "add", "--method", "Letter", "--source", "second letter", "860 555 0101")
	require.NoError(t, err, "a second request is recorded too")
	require.Contains(t, out, "+18605550101 was already on the internal do-not-call list; the request is recorded as a revocation of any consent")
	_, _, err = runHeed(env, "dnc", "add", "--method", "web", "860 555 0101")
	require.ErrorIs(t, err, errUsage, "the public page records its own")
	var entries, staff, letters, requests int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM dnc_internal WHERE phone = '+18605550101'),
		(SELECT count(*) FROM revocations WHERE phone = '+18605550101' AND method = 'staff'),
		(SELECT count(*) FROM revocations WHERE phone = '+18605550101' AND method = 'letter' AND source = 'second letter'),
		(SELECT count(*) FROM optout_requests WHERE phone = '+18605550101' AND recorded_at IS NOT NULL)`).Scan(&entries, &staff, &letters, &requests))
	require.Equal(t, []int{1, 1, 1, 2}, []int{entries, staff, letters, requests}, "one entry; each request a revocation, taken and recorded")
}

func TestCLIAuditVerify(t *testing.T) {
	t.Parallel()
	url := dbtest.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	out, _, err := runHeed(env, "audit", "verify")
	require.NoError(t, err)
	require.Equal(t, "audit log is empty\n", out)
	_, _, err = runHeed(env, "dnc", "add", "860-555-0101")
	require.NoError(t, err)
	_, _, err = runHeed(env, "user", "add", "--email", "a@firm.test", "--role", "attorney")
	require.NoError(t, err)
	out, _, err = runHeed(env, "audit", "verify")
	require.NoError(t, err)
	require.Contains(t, out, "audit log intact: 3 entries", "the opt-out's revocation and entry, and the user")
	head := regexp.MustCompile(`(?m)^head ([0-9a-f]{64})$`).FindStringSubmatch(out)
	require.NotNil(t, head, out)

	// A head written down earlier: the chain still holds it, with rows after.
	_, _, err = runHeed(env, "user", "add", "--email", "b@firm.test", "--role", "attorney")
	require.NoError(t, err)
	out, _, err = runHeed(env, "audit", "verify", "--head", head[1])
	require.NoError(t, err)
	require.Contains(t, out, "the chain still holds head "+head[1]+" (entry 3 of 4)")

	// Cut back to before that head, the chain left still holds together;
	// only the head written down shows what was removed.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// The log's guard refuses it; the database's owner can turn it off.
	_, err = conn.Exec(ctx, `DELETE FROM audit_log`)
	require.ErrorContains(t, err, "audit_log: DELETE refused")
	_, err = conn.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `DELETE FROM audit_log WHERE seq >= (SELECT seq FROM audit_log WHERE hash = $1)`, head[1])
	require.NoError(t, err)
	out, _, err = runHeed(env, "audit", "verify")
	require.NoError(t, err)
	require.Contains(t, out, "audit log intact: 2 entries")
	_, _, err = runHeed(env, "audit", "verify", "--head", head[1])
	require.ErrorIs(t, err, audit.ErrTampered)
	require.ErrorContains(t, err, "the chain was rewritten or cut back since that head was written down")

	_, err = conn.Exec(ctx, `UPDATE audit_log SET details = jsonb_set(details, '{source}', '"nobody asked"') WHERE tbl = 'dnc_internal'`)
	require.NoError(t, err)
	_, _, err = runHeed(env, "audit", "verify")
	require.ErrorContains(t, err, "audit log has been tampered with")
}

func TestCLIConsentImport(t *testing.T) {
	t.Parallel()
	env, conn := cliDatabase(t)
	ctx := context.Background()
	countRows := func(table string) int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}

	bad := writeFile(t, "consents.csv", "phone,kind,scope,channel,obtained_at,source\n860-555-0101,pec,informational,voice,2026-01-05,intake\n860-555-0102,maybe,informational,voice,2026-01-05,intake\n")
	_, stderr, err := runHeed(env, "consent", "import", bad)
	require.ErrorContains(t, err, "1 row(s) rejected; nothing was imported")
	require.Contains(t, stderr, "consents.csv:3:")
	require.Zero(t, countRows("consents"))

	good := writeFile(t, "good.csv", "Phone Number,kind,scope,channel,obtained_at,source\n860-555-0101,pec,informational,voice,2026-01-05,intake\n860-555-0102,pewc,telemarketing,voice,2026-01-06T10:00:00-05:00,signed form\n")
	out, _, err := runHeed(env, "consent", "import", "--dry-run", "--map", "Phone Number=phone", good)
	require.NoError(t, err)
	require.Contains(t, out, "would import 2 consents")
	require.Zero(t, countRows("consents"), "a dry run writes nothing")
	// --by names the admin who imports: kept as captured_by.
	var adminID int64
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('Admin@firm.test', 'admin', 'x'), ('para@firm.test', 'paralegal', 'x')
		RETURNING id`).Scan(&adminID))
	_, _, err = runHeed(env, "consent", "import", "--map", "Phone Number=phone", "--by", "para@firm.test", good)
	require.ErrorIs(t, err, errUsage, "a paralegal does not import consent lists")
	_, _, err = runHeed(env, "consent", "import", "--map", "Phone Number=phone", "--by", "nobody@firm.test", good)
	require.ErrorIs(t, err, errNoSuchUser)
	require.Zero(t, countRows("consents"))
	out, stderr, err = runHeed(env, "consent", "import", "--map", "Phone Number=phone", "--by", "admin@firm.test", good)
	require.NoError(t, err)
	require.Contains(t, out, "imported 2 consents")
	require.Contains(t, out, "1 written consents (pewc) without their evidence")
	require.Contains(t, stderr, "good.csv:3: warning: written consent (pewc) without its evidence")
	require.Equal(t, 2, countRows("consents"))
	var captured int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM consents WHERE captured_by = $1`, adminID).Scan(&captured))
	require.Equal(t, 2, captured)

	revs := writeFile(t, "revocations.csv", "phone,revoked_at,method,source\n860-555-0101,2026-02-01T09:00:00-05:00,email,letter from client\n")
	out, _, err = runHeed(env, "consent", "import", "--revocations", "--by", "admin@firm.test", revs)
	require.NoError(t, err)
	require.Contains(t, out, "imported 1 revocations")
	require.Contains(t, out, "put 1 numbers on the internal do-not-call list")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM revocations WHERE recorded_by = $1`, adminID).Scan(&captured))
	require.Equal(t, 1, captured)
	out, _, err = runHeed(env, "check", "--number", "860-555-0101", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00")
	require.NoError(t, err)
	require.Contains(t, out, "consent.revoked")
	// The imported opt-out stops calls that need no consent too: a
	// reminder robocall to a landline (F3) and a live call.
	for _, extra := range [][]string{{"--line", "landline"}, {"--method", "live"}} {
		out, _, err = runHeed(env, append([]string{"check", "--number", "860-555-0101", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00", "--json"}, extra...)...)
		require.NoError(t, err)
		require.Contains(t, out, `"decision":"deny"`, extra)
		require.Contains(t, out, `"dnc.internal"`, extra)
	}

	// Consents with their signed letters, from a folder.
	letters := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(letters, "lee.pdf"), []byte("%PDF-1.7\n% signed by Lee\n%%EOF\n"), 0o600))
	withDocs := writeFile(t, "letters.csv", "phone,kind,scope,channel,obtained_at,source,document\n"+
		"860-555-0103,pewc,telemarketing,voice,2026-01-07,engagement letter,lee.pdf\n")
	_, stderr, err = runHeed(env, "consent", "import", withDocs)
	require.ErrorContains(t, err, "1 row(s) rejected")
	require.Contains(t, stderr, `letters.csv:2: document "lee.pdf": the import was given no documents`)
	_, _, err = runHeed(env, "consent", "import", "--revocations", "--documents", letters, revs)
	require.ErrorIs(t, err, errUsage)
	_, _, err = runHeed(env, "consent", "import", "--documents", withDocs, withDocs)
	require.ErrorIs(t, err, errUsage, "a file is not a folder")
	// No path leads out of the folder, a symbolic link's included.
	outside := writeFile(t, "secret.pdf", "%PDF-1.7\n% not the firm's to import\n%%EOF\n")
	require.NoError(t, os.Symlink(outside, filepath.Join(letters, "link.pdf")))
	_, stderr, err = runHeed(env, "consent", "import", "--documents", letters,
		writeFile(t, "link.csv", "phone,kind,scope,channel,obtained_at,source,document\n860-555-0104,pewc,telemarketing,voice,2026-01-07,letter,link.pdf\n"))
	require.ErrorContains(t, err, "1 row(s) rejected")
	require.Contains(t, stderr, `link.csv:2: document "link.pdf" cannot be read`)
	out, _, err = runHeed(env, "consent", "import", "--documents", letters, withDocs)
	require.NoError(t, err)
	require.Contains(t, out, "imported 1 consents")
	require.Contains(t, out, "with 1 documents, each kept once under its SHA-256")
	var name string
	require.NoError(t, conn.QueryRow(ctx, `SELECT document_name FROM consents WHERE phone = '+18605550103'`).Scan(&name))
	require.Equal(t, "lee.pdf", name)
}

// TestCLIConsentAdd records one consent through `heed consent add`, with
// its signed letter, on a real database; `heed check` then relies on it.
// Written consent without evidence, a program passed off as a letter and
// a recorder who is not an admin are refused, and nothing is recorded.
func TestCLIConsentAdd(t *testing.T) {
	t.Parallel()
	env, conn := cliDatabase(t)
	ctx := context.Background()
	_, err := conn.Exec(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('admin@firm.test', 'admin', 'x'), ('para@firm.test', 'paralegal', 'x')`)
	require.NoError(t, err)
	letter := writeFile(t, "signed letter.pdf", "%PDF-1.7\n% reminder calls agreed, signed\n%%EOF\n")
	program := writeFile(t, "letter.pdf", "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
	add := func(extra ...string) (string, error) {
		out, _, err := runHeed(env, append([]string{"consent", "add", "--number", "860-555-0131", "--kind", "pewc", "--scope", "informational",
			"--obtained-at", "2026-01-05T14:30:00-05:00", "--source", "engagement letter"}, extra...)...)
		return out, err
	}
	_, err = add("--by", "admin@firm.test")
	require.ErrorContains(t, err, "written consent (pewc) needs its evidence")
	require.ErrorIs(t, err, errUsage)
	_, err = add("--by", "admin@firm.test", "--document", program)
	require.ErrorContains(t, err, "heed keeps PDF, PNG, JPEG, GIF, WebP or UTF-8 text files")
	require.ErrorIs(t, err, errUsage)
	_, err = add("--by", "para@firm.test", "--document", letter)
	require.ErrorIs(t, err, errUsage)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM consents`).Scan(&n))
	require.Zero(t, n, "nothing recorded")

	out, err := add("--by", "admin@firm.test", "--document", letter)
	require.NoError(t, err)
	require.Contains(t, out, "for +18605550131: pewc for informational by voice, obtained 2026-01-05T19:30:00Z")
	require.Contains(t, out, "document signed letter.pdf, SHA-256 ")
	var id int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT c.id FROM consents c JOIN consent_documents d ON d.sha256 = c.document
		JOIN users u ON u.id = c.captured_by WHERE u.email = 'admin@firm.test' AND c.document_name = 'signed letter.pdf'`).Scan(&id))
	out, _, err = runHeed(env, "check", "--number", "860-555-0131", "--purpose", "informational", "--at", "2026-12-01T10:00:00-05:00", "--json")
	require.NoError(t, err)
	require.Contains(t, out, `"decision":"allow"`)
	require.Contains(t, out, fmt.Sprintf(`"consent_id":%d`, id))
}

// cliDatabase returns the environment `heed` runs with against a fresh
// database, and a connection to that database, closed when t ends.
func cliDatabase(t *testing.T) (map[string]string, *pgx.Conn) {
	t.Helper()
	url := dbtest.URL(t)
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return map[string]string{"DATABASE_URL": url}, conn
}

// TestCLIManageUsers: the commands an operator on the server uses to
// manage users when no admin can sign in: list, role, disable and enable
// (never the last enabled admin), a password reset, and API tokens.
func TestCLIManageUsers(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": dbtest.URL(t)}
	heed := func(args ...string) string {
		t.Helper()
		out, stderr, err := runHeed(env, args...)
		require.NoError(t, err, "%v: %s", args, stderr)
		return out
	}
	heed("user", "add", "--email", "root@firm.test", "--role", "admin", "--password", "long enough password")
	heed("user", "add", "--email", "pat@firm.test", "--role", "paralegal", "--password", "long enough password")

	_, _, err := runHeed(env, "user", "disable", "--email", "root@firm.test")
	require.ErrorIs(t, err, account.ErrLastAdmin)
	require.ErrorContains(t, err, "make another user an admin first")
	_, _, err = runHeed(env, "user", "role", "--email", "root@firm.test", "--role", "paralegal")
	require.ErrorIs(t, err, account.ErrLastAdmin)
	_, _, err = runHeed(env, "user", "role", "--email", "pat@firm.test", "--role", "janitor")
	require.ErrorIs(t, err, errUsage)
	_, _, err = runHeed(env, "user", "disable", "--email", "nobody@firm.test")
	require.ErrorIs(t, err, account.ErrNotFound)
	_, _, err = runHeed(env, "user", "disable")
	require.ErrorIs(t, err, errUsage)

	require.Equal(t, "pat@firm.test is now admin\n", heed("user", "role", "--email", "PAT@firm.test", "--role", "admin"))
	require.Equal(t, "disabled root@firm.test\n", heed("user", "disable", "--email", "root@firm.test"))
	out := heed("user", "list")
	require.Regexp(t, `(?m)^pat@firm\.test\s+admin\s+active\s`, out)
	require.Regexp(t, `(?m)^root@firm\.test\s+admin\s+disabled\s`, out)
	require.Equal(t, "enabled root@firm.test\n", heed("user", "enable", "--email", "root@firm.test"))

	// The reset forgets the account's failed sign-ins (web's
	// signin_failures, keyed by the email's SHA-256), as on the Users
	// page, and no other account's.
	db, err := pgx.Connect(t.Context(), env["DATABASE_URL"])
	require.NoError(t, err)
	defer db.Close(context.Background())
	_, err = db.Exec(t.Context(), `INSERT INTO signin_failures (kind, key, at)
		SELECT 'account', encode(sha256(convert_to(e, 'UTF8')), 'hex'), now() FROM unnest(ARRAY['pat@firm.test', 'pat@firm.test', 'root@firm.test']) e`)
	require.NoError(t, err)
	failures := func(email string) (n int) {
		require.NoError(t, db.QueryRow(t.Context(), `SELECT count(*) FROM signin_failures
			WHERE kind = 'account' AND key = encode(sha256(convert_to($1::text, 'UTF8')), 'hex')`, email).Scan(&n))
		return n
	}
	require.Equal(t, 2, failures("pat@firm.test"))
	out = heed("user", "password", "--email", "pat@firm.test")
	require.Zero(t, failures("pat@firm.test"), "forgotten with the old password")
	require.Equal(t, 1, failures("root@firm.test"))
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Contains(t, out, "password of pat@firm.test reset; their sessions are signed out, and they had no API tokens in force\n")
	_, _, err = runHeed(env, "user", "password", "--email", "pat@firm.test", "--password", "short")
	require.ErrorIs(t, err, account.ErrInvalid)

	tok := strings.TrimSpace(heed("token", "add", "--email", "pat@firm.test", "--name", "case system"))
	require.True(t, strings.HasPrefix(tok, "heed_"), tok)
	out = heed("token", "list", "--email", "pat@firm.test")
	fields := regexp.MustCompile(`(?m)^(\d+)\s+case system\s+\S+ \S+\s+never\s*$`).FindStringSubmatch(out)
	require.NotNil(t, fields, out)
	_, _, err = runHeed(env, "token", "revoke", "--email", "root@firm.test", "--id", fields[1])
	require.ErrorIs(t, err, account.ErrTokenNotFound, "not root's token")
	require.Contains(t, heed("token", "revoke", "--email", "pat@firm.test", "--id", fields[1]), "revoked token "+fields[1]+" (case system) of pat@firm.test")
	require.Regexp(t, `(?m)^`+fields[1]+`\s+case system\s+\S+ \S+\s+never\s+\S+ \S+\s*$`, heed("token", "list", "--email", "pat@firm.test"))

	// A reset revokes the user's API tokens, and says so.
	heed("token", "add", "--email", "pat@firm.test", "--name", "docket sync")
	heed("token", "add", "--email", "pat@firm.test", "--name", "macro")
	require.Contains(t, heed("user", "password", "--email", "pat@firm.test", "--password", "a reset password"),
		"password of pat@firm.test reset; their sessions are signed out, and their 2 API tokens were revoked\n")
	out = heed("token", "list", "--email", "pat@firm.test")
	require.Regexp(t, `(?m)^\d+\s+docket sync\s+\S+ \S+\s+never\s+\S+ \S+\s*$`, out)
	require.Regexp(t, `(?m)^\d+\s+macro\s+\S+ \S+\s+never\s+\S+ \S+\s*$`, out)
}

// TestCLIOnASerializableDatabase: heed's connections run at READ COMMITTED
// whatever the database's default, so that the audit log's trigger, which
// refuses a stricter level (its chain could fork), takes their writes: a
// database whose default is SERIALIZABLE still migrates and takes an
// audited write.
func TestCLIOnASerializableDatabase(t *testing.T) {
	t.Parallel()
	url := dbtest.EmptyURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = serializable', current_database()); END $$`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	env := map[string]string{"DATABASE_URL": url}
	_, _, err = runHeed(env, "migrate")
	require.NoError(t, err)
	_, _, err = runHeed(env, "user", "add", "--email", "a@firm.test", "--role", "admin", "--password", "long enough password")
	require.NoError(t, err, "an audited write")

	conn, err = pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var level string
	require.NoError(t, conn.QueryRow(ctx, `SHOW default_transaction_isolation`).Scan(&level))
	require.Equal(t, "serializable", level, "the database's default, which heed's connections override")
	_, err = conn.Exec(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('b@firm.test', 'admin', 'x')`)
	require.ErrorContains(t, err, "audited writes run at READ COMMITTED", "a connection that does not override it is refused")
}

// TestServeRefusesAnOptOutNumberThatIsNotTollFree: heed serve refuses to
// start, before it touches the database, when HEED_OPTOUT_NUMBER (the
// number every call's voicemail leaves for opt-outs, rule F7) is not a
// valid number, is outside North America, is a 900 number or is not
// toll-free, and says which; a toll-free number is taken.
func TestServeRefusesAnOptOutNumberThatIsNotTollFree(t *testing.T) {
	t.Parallel()
	url := dbtest.EmptyURL(t)
	for number, says := range map[string]string{
		"call us":          "not a valid number",
		"+44 20 7123 4567": "+442071234567 is outside North America",
		"1-900-555-0199":   "+19005550199 is a premium-rate 900 number",
		"(860) 555-0199":   "+18605550199 is not toll-free; rule F7 needs voicemail to leave a toll-free number (area code 800, 833, 844, 855, 866, 877 or 888)",
	} {
		env := map[string]string{"DATABASE_URL": url, "HEED_MIGRATE": "true", "HEED_FIRM_NAME": "Smith and Lee", "HEED_OPTOUT_NUMBER": number}
		_, _, err := runHeed(env, "serve")
		require.ErrorIs(t, err, errUsage, number)
		require.Equal(t, 2, exitCode(err), number)
		require.ErrorContains(t, err, `--optout-number (HEED_OPTOUT_NUMBER) "`+number+`": `+says, number)
	}
	// Nothing ran: not even the migrations serve was asked to apply.
	_, _, err := runHeed(map[string]string{"DATABASE_URL": url}, "serve")
	require.ErrorContains(t, err, "database schema is not up to date")

	// A toll-free number gets serve as far as the database.
	_, _, err = runHeed(map[string]string{"DATABASE_URL": url, "HEED_FIRM_NAME": "Smith and Lee", "HEED_OPTOUT_NUMBER": "1 (888) 555-0100"}, "serve")
	require.ErrorContains(t, err, "database schema is not up to date")
}
