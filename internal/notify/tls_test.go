package notify

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
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/failberry/failberry/internal/testenv"
)

// writeCert writes a certificate (signed by parent, or self-signed) and its
// key as PEM files in dir.
func writeCert(t *testing.T, dir, name string, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// mqtts against a real mosquitto that requires a client certificate: the
// CA file verifies the broker, the client certificate gets failberry in.
func TestMQTTTLSClientCertificate(t *testing.T) {
	testenv.RequireTools(t, "mosquitto_sub")
	b := startBroker(t) // for its binary and a port; replaced by a TLS listener
	b.stop()
	dir := t.TempDir()
	now := time.Now()
	ca, caKey := writeCert(t, dir, "ca", &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	writeCert(t, dir, "server", &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, caKey)
	writeCert(t, dir, "client", &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "failberry"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, ca, caKey)
	_, port, _ := net.SplitHostPort(b.addr)
	conf := fmt.Sprintf("user root\npersistence false\nlistener %s 127.0.0.1\nallow_anonymous true\n"+
		"cafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\nrequire_certificate true\n", port, dir, dir, dir)
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.start(b.cmd.Path)

	c := DefaultConfig()
	c.Hooks.Dir = ""
	c.MQTT.Broker, c.MQTT.Discovery = "mqtts://"+b.addr, false
	c.MQTT.CAFile, c.MQTT.CertFile, c.MQTT.KeyFile = dir+"/ca.pem", dir+"/client.pem", dir+"/client.key"
	got := make(chan struct{})
	n, err := New(c, Options{Hostname: "gw", State: func() []Reading {
		select {
		case got <- struct{}{}: // read for publishing: connected
		default:
		}
		return []Reading{{Key: "link", Value: "ON", Binary: true}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("never connected over TLS with the client certificate")
	}
	// Seen by the broker, not by failberry: a subscriber over TLS gets the
	// retained state.
	out, err := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", port, "--cafile", dir+"/ca.pem",
		"--cert", dir+"/client.pem", "--key", dir+"/client.key", "-t", "failberry/link", "-C", "1", "-W", "10").CombinedOutput()
	if err != nil || string(out) != "ON\n" {
		t.Errorf("mosquitto_sub over TLS: %q, %v", out, err)
	}
}
