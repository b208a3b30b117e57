package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestSourceOverVerifiedTLS runs projector against a PostgreSQL server
// that speaks TLS with a certificate of its own CA, with
// sslmode=verify-full: the snapshot and the replication stream both travel
// encrypted.
func TestSourceOverVerifiedTLS(t *testing.T) {
	srv := testbed.NewPrivateServer(t)
	caFile := serverCertificate(t, filepath.Join("..", ".testbed", "pg", strconv.Itoa(srv.Port), "data"))
	db := srv.NewDatabase()
	db.Exec(`ALTER SYSTEM SET ssl = on`)
	srv.Restart()
	db.Exec(`CREATE TABLE notes (id bigint PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'over TLS')`)

	u, err := url.Parse(db.DSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", caFile)
	u.RawQuery = q.Encode()
	search := testbed.NewSearch(t)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  notes: { dsn: %q }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: notes
    root: { source: notes, table: notes }
`, u.String(), search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	db.Exec(`INSERT INTO notes VALUES (2, 'streamed over TLS')`)
	waitDoc(t, search, search.Index("notes"), "2", func(doc map[string]any) bool { return doc["body"] == "streamed over TLS" })

	conn := db.Connect()
	defer conn.Close(context.Background())
	var walsenders int
	var allTLS bool
	err = conn.QueryRow(context.Background(), `SELECT count(*), coalesce(bool_and(s.ssl), false)
		FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.backend_type = 'walsender'`).Scan(&walsenders, &allTLS)
	if err != nil {
		t.Fatal(err)
	}
	if walsenders == 0 || !allTLS {
		t.Errorf("%d walsenders, all over TLS: %t", walsenders, allTLS)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// serverCertificate writes a CA and a server certificate for 127.0.0.1
// signed by it into the cluster's data directory, readable by the server,
// and returns the CA's file.
func serverCertificate(t *testing.T, dataDir string) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "projector test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(path, typ string, der []byte, mode os.FileMode) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dataDir, "server.crt"), "CERTIFICATE", der, 0o644)
	write(filepath.Join(dataDir, "server.key"), "EC PRIVATE KEY", keyDER, 0o600)
	// The server refuses a key it does not own; the test bed runs it as
	// the postgres user when the tests run as root.
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		for _, f := range []string{"server.crt", "server.key"} {
			if err := os.Chown(filepath.Join(dataDir, f), uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	write(caFile, "CERTIFICATE", caDER, 0o644)
	return caFile
}
