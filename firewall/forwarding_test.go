package firewall

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestEnableForwarding(t *testing.T) {
	root := t.TempDir()
	v4 := filepath.Join(root, "sys/net/ipv4/ip_forward")
	v6 := filepath.Join(root, "sys/net/ipv6/conf/all/forwarding")
	for _, p := range []string{v4, v6} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := EnableForwarding(root, true, false); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got, got6 := read(v4), read(v6); got != "1\n" || got6 != "0\n" {
		t.Errorf("after ipv4 only: ip_forward=%q forwarding=%q", got, got6)
	}
	if err := EnableForwarding(root, true, true); err != nil {
		t.Fatal(err)
	}
	if got := read(v6); got != "1\n" {
		t.Errorf("ipv6 forwarding = %q, want 1", got)
	}
	if err := EnableForwarding(t.TempDir(), true, false); err == nil {
		t.Error("EnableForwarding on an empty root succeeded (created the file?)")
	}
}

func TestFlushConntrackRejectsBadAddress(t *testing.T) {
	for _, a := range []netip.Addr{{}, netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		if _, err := FlushConntrack(a); err == nil {
			t.Errorf("FlushConntrack(%v) succeeded; it would flush everything", a)
		}
	}
}
