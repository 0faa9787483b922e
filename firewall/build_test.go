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

// inboundPolicy is fullPolicy with the inbound path: marks on the wired
// LAN and the WAN, forwards of every shape, both DMZ hosts and SNAT.
func inboundPolicy() Policy {
	p := fullPolicy()
	p.Marks = []InterfaceMark{{"eth0", 0x01000000}, {"ppp+", 0x02000000}}
	p.Forwards = []Forward{
		{Proto: "udp", Ports: "51820", To: netip.MustParseAddr("192.168.50.10")},
		{Proto: "tcp", Ports: "8443", To: netip.MustParseAddr("192.168.50.10"), ToPort: 443},
		{Proto: "udp", Ports: "60000-60010", To: netip.MustParseAddr("192.168.50.11"), ToPort: 61000},
		{Proto: "tcp", Ports: "2222-2223", To: netip.MustParseAddr("192.168.50.11"), ToPort: 2222}, // same ports
		{Proto: "udp", Ports: "51820", To: netip.MustParseAddr("fd50::10")},
	}
	p.DMZ = netip.MustParseAddr("192.168.50.20")
	p.DMZ6 = netip.MustParseAddr("fd50::20")
	p.SNATForwards = true
	p.LANNetworks = []netip.Prefix{netip.MustParsePrefix("192.168.50.0/24"), netip.MustParsePrefix("fd50::/64")}
	return p
}

func TestBuildGolden(t *testing.T) {
	cases := map[string]Policy{
		"inbound": inboundPolicy(),
		// No SNAT, no echo (so the DMZ host gets it), IPv4 only, own mask.
		"dmz-no-snat-v4": {
			LAN: []string{"eth0"}, HealthPort: 9000,
			Marks:    []InterfaceMark{{"eth0", 0x100}, {"ppp+", 0x200}},
			MarkMask: 0xf00,
			Forwards: []Forward{{Proto: "tcp", Ports: "22", To: netip.MustParseAddr("192.168.1.5"), ToPort: 2222}},
			DMZ:      netip.MustParseAddr("192.168.1.10"),
		},
		"full": fullPolicy(),
		// The metered link: checkers only on the health port (IPv4 ones:
		// IPv6 is shut out of it) and the cap's allowlist.
		"metered": {
			LAN: []string{"eth0"}, HealthPort: 9000, IPv6: true,
			HealthAllowFrom: []netip.Prefix{netip.MustParsePrefix("15.177.0.0/18"), netip.MustParsePrefix("54.251.31.128/26")},
			Cap:             CapAllowlist,
			CapAllow:        []netip.Prefix{netip.MustParsePrefix("192.168.50.10/32"), netip.MustParsePrefix("fd50::/64")},
		},
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
	f.Add("ppp+", "eth0", "192.168.1.0/24", 9000, "51820", "192.168.1.10", 0)
	f.Add("ppp+", "eth0", "fd00::/64", 9000, "60000-60010", "fd00::10", 0)
	f.Add("ppp+", "eth0", "192.168.1.0/24", 9000, "8000-8010", "192.168.1.10", 65530)
	f.Fuzz(func(t *testing.T, wan, lan, prefix string, port int, ports, to string, toPort int) {
		p := Policy{WAN: wan, LAN: []string{lan}, HealthPort: port, IPv6: true, SNATForwards: true}
		if pf, err := netip.ParsePrefix(prefix); err == nil {
			p.AllowSources = []netip.Prefix{pf}
		}
		if a, err := netip.ParseAddr(to); err == nil {
			p.Forwards = []Forward{{Proto: "udp", Ports: ports, To: a, ToPort: toPort}, {Proto: "tcp", Ports: ports, To: a}}
			p.DMZ = a
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

// TestBuildRejectsBadInbound checks that each inbound mistake is refused
// with a *FieldError naming the field and element (so the config layer can
// point at firewall.forwards[2]) and a message that says what to do.
func TestBuildRejectsBadInbound(t *testing.T) {
	v4 := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	fwd := func(proto, ports, to string, toPort int) Forward {
		return Forward{Proto: proto, Ports: ports, To: v4(to), ToPort: toPort}
	}
	ok := inboundPolicy()
	if _, err := Build(ok); err != nil {
		t.Fatalf("base policy: %v", err)
	}
	with := func(f Forward) func(p *Policy) {
		return func(p *Policy) { p.Forwards = append(p.Forwards, f) }
	}
	cases := []struct {
		name   string
		mutate func(p *Policy)
		field  string
		index  int
		want   string
	}{
		{"proto", with(fwd("icmp", "1", "192.168.50.30", 0)), "Forwards", 5, `protocol "icmp" is not tcp or udp`},
		{"proto case", with(fwd("UDP", "1", "192.168.50.30", 0)), "Forwards", 5, "not tcp or udp"},
		{"empty ports", with(fwd("udp", "", "192.168.50.30", 0)), "Forwards", 5, "write 51820 or 60000-60010"},
		{"word ports", with(fwd("udp", "wireguard", "192.168.50.30", 0)), "Forwards", 5, "not a port or a range"},
		{"port 0", with(fwd("udp", "0", "192.168.50.30", 0)), "Forwards", 5, "outside 1-65535"},
		{"port too big", with(fwd("udp", "65536", "192.168.50.30", 0)), "Forwards", 5, "outside 1-65535"},
		{"signed port", with(fwd("udp", "+53", "192.168.50.30", 0)), "Forwards", 5, "not a port or a range"},
		{"three parts", with(fwd("udp", "1-2-3", "192.168.50.30", 0)), "Forwards", 5, "not a port or a range"},
		{"backwards", with(fwd("udp", "60010-60000", "192.168.50.30", 0)), "Forwards", 5, "write it low-high (60000-60010)"},
		{"to port off the end", with(fwd("udp", "60000-60010", "192.168.50.30", 65530)), "Forwards", 5, "would end at port 65540"},
		{"negative to port", with(fwd("udp", "5", "192.168.50.30", -1)), "Forwards", 5, "outside 1-65535"},
		{"health port", with(fwd("tcp", "8000-9999", "192.168.50.30", 0)), "Forwards", 5, "includes the health port 9000"},
		{"overlap v4, other host", with(fwd("udp", "60005", "192.168.50.30", 0)), "Forwards", 5, "overlaps the earlier forward udp 60000-60010 to 192.168.50.11 port 61000 (entry 2)"},
		{"overlap v6 same host", with(Forward{Proto: "udp", Ports: "51800-51900", To: v4("fd50::10")}), "Forwards", 5, "overlaps the earlier forward udp 51820 to fd50::10 (entry 4)"},
		{"no host", with(Forward{Proto: "udp", Ports: "1"}), "Forwards", 5, "no LAN host"},
		{"mapped host", with(fwd("udp", "1", "::ffff:192.168.50.30", 0)), "Forwards", 5, "write the IPv4 address 192.168.50.30"},
		{"loopback host", with(fwd("udp", "1", "127.0.0.1", 0)), "Forwards", 5, "not a LAN host's unicast address"},
		{"link-local v6", with(Forward{Proto: "udp", Ports: "1", To: v4("fe80::1")}), "Forwards", 5, "not a LAN host's unicast address"},
		{"zone", with(Forward{Proto: "udp", Ports: "1", To: v4("fd50::30%eth0")}), "Forwards", 5, "has a zone"},
		{"off the LAN", with(fwd("udp", "1", "8.8.8.8", 0)), "Forwards", 5, "8.8.8.8 is not on a LAN network ([192.168.50.0/24])"},
		{"v6 port change", with(Forward{Proto: "udp", Ports: "1", To: v4("fd50::30"), ToPort: 2}), "Forwards", 5, "drop the host port (2)"},
		{"v6 forward, IPv6 off", func(p *Policy) { p.IPv6, p.DMZ6 = false, netip.Addr{} }, "Forwards", 4, "turn IPv6 on or drop it"},
		{"DMZ is v6", func(p *Policy) { p.DMZ = v4("fd50::20") }, "DMZ", -1, "put fd50::20 in the IPv6 DMZ"},
		{"DMZ6 is v4", func(p *Policy) { p.DMZ6 = v4("192.168.50.20") }, "DMZ6", -1, "put 192.168.50.20 in the IPv4 DMZ"},
		{"DMZ off the LAN", func(p *Policy) { p.DMZ = v4("10.0.0.20") }, "DMZ", -1, "not on a LAN network"},
		{"DMZ6 off the LAN", func(p *Policy) { p.DMZ6 = v4("2001:db8::20") }, "DMZ6", -1, "not on a LAN network ([fd50::/64])"},
		{"bad LAN network", func(p *Policy) { p.LANNetworks = append(p.LANNetworks, netip.Prefix{}) }, "LANNetworks", 2, "not a plain"},
		{"SNAT without LAN", func(p *Policy) { p.LAN = nil }, "SNATForwards", -1, "list the LAN interface"},
		{"mark zero", func(p *Policy) { p.Marks[0].Mark = 0 }, "Marks", 0, "try 0x1000000"},
		{"mark outside mask", func(p *Policy) { p.Marks[1].Mark = 0x2 }, "Marks", 1, "inside the mask 0xf000000"},
		{"mark twice", func(p *Policy) { p.Marks[1].Mark = p.Marks[0].Mark }, "Marks", 1, "give each interface its own mark"},
		{"interface twice", func(p *Policy) { p.Marks = append(p.Marks, InterfaceMark{"ppp0", 0x3000000}) }, "Marks", 2, "already marked by the earlier mark of ppp+ (entry 1)"},
		{"bad mark interface", func(p *Policy) { p.Marks[0].Interface = "eth0 -j DROP" }, "Marks", 0, "invalid characters"},
		{"mask without marks", func(p *Policy) { p.Marks, p.MarkMask = nil, 0xff }, "MarkMask", -1, "no interface is marked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := inboundPolicy()
			c.mutate(&p)
			rs, err := Build(p)
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Build = %v, want ErrInvalidPolicy", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Build = %v, want a *FieldError", err)
			}
			if fe.Field != c.field || fe.Index != c.index {
				t.Errorf("error at %s[%d], want %s[%d]: %v", fe.Field, fe.Index, c.field, c.index, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if !rs.V4.Empty() || !rs.V6.Empty() {
				t.Errorf("rules returned with an error: %s", rs)
			}
		})
	}
}

func TestParsePorts(t *testing.T) {
	for in, want := range map[string]portRange{"1": {1, 1}, "65535": {65535, 65535}, "60000-60010": {60000, 60010}, "7-7": {7, 7}} {
		if got, err := parsePorts(in); err != nil || got != want {
			t.Errorf("parsePorts(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
