package firewall

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func fullPolicy() Policy {
	return Policy{
		LAN:           []string{"eth0", "wlan0"},
		MasqueradeOut: []string{"eth0"},
		AllowSources: []netip.Prefix{
			netip.MustParsePrefix("192.168.50.10/32"),
			netip.MustParsePrefix("192.168.50.77/24"), // unmasked on purpose
			netip.MustParsePrefix("fd50::10/128"),
		},
		HealthPort:  9000,
		InboundICMP: true,
		IPv6:        true,
		ClampMSS:    true,
	}
}

func TestBuildGolden(t *testing.T) {
	cases := map[string]Policy{
		"full":    fullPolicy(),
		"minimal": {LAN: []string{"eth0"}, HealthPort: 9000},
		"custom-wan-no-allowlist-v6": {
			WAN: "wwan0", LAN: []string{"br0"}, HealthPort: 8443, IPv6: true,
		},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			rs, err := Build(p)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			golden(t, filepath.Join("testdata", name+".rules"), rs.String())
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run with -update to create): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	a, _ := Build(fullPolicy())
	b, _ := Build(fullPolicy())
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two builds differ (-a +b):\n%s", diff)
	}
	if !strings.Contains(a.String(), "-A FAILBERRY-FORWARD -s 192.168.50.0/24 -i wlan0 -o ppp+ -j ACCEPT") {
		t.Errorf("unmasked prefix not masked:\n%s", a)
	}
}

func TestBuildRejectsBadPolicy(t *testing.T) {
	ok := Policy{LAN: []string{"eth0"}, HealthPort: 9000}
	cases := map[string]func(p *Policy){
		"port 0":           func(p *Policy) { p.HealthPort = 0 },
		"port too big":     func(p *Policy) { p.HealthPort = 70000 },
		"negative port":    func(p *Policy) { p.HealthPort = -1 },
		"invalid prefix":   func(p *Policy) { p.AllowSources = []netip.Prefix{{}} },
		"mapped prefix":    func(p *Policy) { p.AllowSources = []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.1/128")} },
		"LAN is WAN":       func(p *Policy) { p.LAN = []string{"ppp0"} },
		"LAN twice":        func(p *Policy) { p.LAN = []string{"eth0", "eth0"} },
		"empty LAN name":   func(p *Policy) { p.LAN = []string{""} },
		"long name":        func(p *Policy) { p.LAN = []string{"eth0123456789abcdef"} },
		"space in name":    func(p *Policy) { p.LAN = []string{"eth0 -j ACCEPT"} },
		"wildcard WAN":     func(p *Policy) { p.WAN = "+" },
		"plus inside":      func(p *Policy) { p.WAN = "pp+p" },
		"masquerade WAN":   func(p *Policy) { p.MasqueradeOut = []string{"ppp+"} },
		"masquerade twice": func(p *Policy) { p.MasqueradeOut = []string{"eth0", "eth0"} },
		"masquerade bad":   func(p *Policy) { p.MasqueradeOut = []string{"a/b"} },
	}
	if _, err := Build(ok); err != nil {
		t.Fatalf("base policy: %v", err)
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := ok
			mutate(&p)
			rs, err := Build(p)
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Build = %v, want ErrInvalidPolicy", err)
			}
			if !rs.V4.Empty() || !rs.V6.Empty() {
				t.Errorf("rules returned with an error: %s", rs)
			}
		})
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("ppp+", "eth0", "192.168.1.0/24", 9000)
	f.Fuzz(func(t *testing.T, wan, lan, prefix string, port int) {
		p := Policy{WAN: wan, LAN: []string{lan}, HealthPort: port, IPv6: true}
		if pf, err := netip.ParsePrefix(prefix); err == nil {
			p.AllowSources = []netip.Prefix{pf}
		}
		rs, err := Build(p)
		if err != nil {
			return
		}
		for _, c := range append(rs.V4.Chains, rs.V6.Chains...) {
			for _, r := range c.Rules {
				if strings.Count(r, " -j ") != 1 && !strings.HasPrefix(r, "-j ") {
					t.Fatalf("rule %q of %s has not exactly one target", r, c.Name)
				}
			}
		}
	})
}
