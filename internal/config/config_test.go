package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health/target"
	"github.com/failberry/failberry/internal/config/value"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const samplePath = "../../packaging/failberry.yaml"

var cmpOpts = cmp.Options{cmpopts.EquateComparable(firewall.Source{}, netip.Addr{})}

func withAPN(apn string) Config {
	c := Default()
	c.Modem.APN = apn
	return c
}

func mustParse(t *testing.T, src string) Config {
	t.Helper()
	c, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror:\n%v", src, err)
	}
	return c
}

func TestMinimalConfigGetsDefaults(t *testing.T) {
	got := mustParse(t, "modem:\n  apn: internet\n")
	if diff := cmp.Diff(withAPN("internet"), got, cmpOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// sampleWant is what the sample config sets: the defaults, the APN, and
// split mode for new installs (Default() keeps replace, which is what a
// config without route.mode, written before split existed, meant).
func sampleWant() Config {
	c := withAPN("internet")
	c.Route.Mode = "split"
	return c
}

func TestNullValuesKeepDefaults(t *testing.T) {
	got := mustParse(t, "modem:\n  apn: internet\n  baud:\nppp:\nhealth:\n  probes: ~\n")
	if diff := cmp.Diff(withAPN("internet"), got, cmpOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSampleFileLoads(t *testing.T) {
	got, err := Load(samplePath)
	if err != nil {
		t.Fatalf("Load(%s): %v", samplePath, err)
	}
	if diff := cmp.Diff(sampleWant(), got, cmpOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestSampleFileDocumentsDefaults uncomments every key in the sample file:
// the defaults it documents must be the ones in the binary.
func TestSampleFileDocumentsDefaults(t *testing.T) {
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	// Examples rather than defaults (and pin/pin_file exclude each other).
	examples := map[string]bool{"usb_id": true, "pin": true, "pin_file": true, "options": true, "allow_sources": true, "dmz": true, "dmz6": true}
	keyLine := regexp.MustCompile(`^(\s*)# ([a-z_0-9]+):( |$)`)
	var out []string
	uncommented := 0
	for _, line := range strings.Split(string(data), "\n") {
		if m := keyLine.FindStringSubmatch(line); m != nil && !examples[m[2]] {
			line = m[1] + strings.TrimPrefix(line, m[1]+"# ")
			uncommented++
		}
		out = append(out, line)
	}
	if uncommented < 50 {
		t.Fatalf("uncommented only %d keys; the sample should list every key", uncommented)
	}
	got := mustParse(t, strings.Join(out, "\n"))
	if diff := cmp.Diff(sampleWant(), got, cmpOpts); diff != "" {
		t.Errorf("sample documents other defaults than Default() (-binary +sample):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadNamesFileInProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failberry.yaml")
	if err := os.WriteFile(path, []byte("modem:\n  apn: internet\n  baud: fast\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
		t.Fatalf("Load = %v, want one *Error problem", err)
	}
	want := path + `:3: modem.baud: "fast" is not a number; use a baud rate such as 115200`
	if got := cerr.Error(); got != want {
		t.Errorf("error = %q\nwant    %q", got, want)
	}
}

func TestQuorumDefaultsToMajority(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 4: 3, 5: 3} {
		var targets []string
		for i := range n {
			targets = append(targets, `"icmp:10.0.0.`+string(rune('1'+i))+`"`)
		}
		c := mustParse(t, "modem: {apn: internet}\nhealth:\n  probes:\n    targets: ["+strings.Join(targets, ", ")+"]\n")
		if c.Health.Probes.Quorum != want {
			t.Errorf("%d targets: quorum %d, want %d", n, c.Health.Probes.Quorum, want)
		}
	}
}

func TestValuesAreDecoded(t *testing.T) {
	src := `
modem:
  apn: direct
  device: auto
  usb_id: 19D2:0031
  interface: 2
  pin: "0123"
  pdp_type: IPV4V6
  dial: "*99#"
  init: ["AT^CURC=0"]
  roaming: true
  registration_timeout: 2m
ppp:
  options: ["novj", "mru 1400"]
  mtu: 1400
route: {mode: metric, metric: 20, ipv6: false}
firewall:
  lan_interfaces: [eth0, "wlan+"]
  allow_sources: ["192.168.1.20", "2001:db8::/32"]
health:
  status_listen: ""
  probes:
    targets: ["tcp:[2606:4700::1111]:443", "http://example.com:8443/health", "icmp:9.9.9.9"]
    quorum: 1
    max_loss: 0
    budget_bytes_per_day: 20MB
recovery:
  power_cycle: {hub: "1-1", port: 2, attempts: 0}
  reboot: {enabled: true, max_per_day: 24, min_uptime: 5m}
`
	c := mustParse(t, src)
	want := withAPN("direct")
	want.Modem.USBID, want.Modem.Interface, want.Modem.PIN = "19d2:0031", 2, "0123"
	want.Modem.PDPType, want.Modem.DialString, want.Modem.Init = "IPV4V6", "*99#", []string{"AT^CURC=0"}
	want.Modem.AllowRoaming, want.Modem.RegistrationTimeout = true, value.Duration(2*time.Minute)
	want.PPP.Options, want.PPP.MTU = []string{"novj", "mru 1400"}, 1400
	want.Route = Route{Mode: "metric", Metric: 20, WiredInterface: "eth0"}
	want.Firewall.LAN = []string{"eth0", "wlan+"}
	want.Firewall.AllowSources = []firewall.Source{{Prefix: netip.MustParsePrefix("192.168.1.20/32")}, {Prefix: netip.MustParsePrefix("2001:db8::/32")}}
	want.Health.StatusListen = ""
	want.Health.Probes.Targets = []target.Target{
		{Kind: "tcp", Addr: "[2606:4700::1111]:443"}, {Kind: "http", Addr: "http://example.com:8443/health"}, {Kind: "icmp", Addr: "9.9.9.9"}}
	want.Health.Probes.Quorum, want.Health.Probes.MaxLoss, want.Health.Probes.BudgetBytesPerDay = 1, 0, 20_000_000
	want.Recovery.PowerCycle.Hub, want.Recovery.PowerCycle.Port, want.Recovery.PowerCycle.Attempts = "1-1", 2, 0
	want.Recovery.Reboot.Enabled, want.Recovery.Reboot.MaxPerDay, want.Recovery.Reboot.MinUptime = true, 24, value.Duration(5*time.Minute)
	if diff := cmp.Diff(want, c, cmpOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEffectiveRoundTrips(t *testing.T) {
	for _, src := range []string{
		"modem: {apn: internet}",
		`
modem: {apn: direct, usb_id: "12d1:1506", interface: 0, pin_file: /etc/failberry/pin, init: ["ATE0", "AT+CMEE=1"]}
ppp: {options: [novj], unit: 3, lcp_echo_interval: 0}
firewall: {allow_sources: ["10.1.2.3", "10.9.0.0/16", "fd00::/8"], masquerade_out: [eth1]}
health: {listen: "[::]:9000", status_listen: "", probes: {targets: ["http://example.com/x?y=1", "icmp:9.9.9.9"], interval: 1h30m, budget_bytes_per_day: 0}}
recovery: {power_cycle: {hub: "2", port: 4}, reboot: {command: [/sbin/reboot]}, sim_retry: 90m}
log_level: debug
`,
	} {
		c := mustParse(t, src)
		out := c.Effective()
		back, err := Parse("effective.yaml", []byte(out))
		if err != nil {
			t.Fatalf("Effective output does not parse:\n%s\n%v", out, err)
		}
		if diff := cmp.Diff(c, back, cmpOpts); diff != "" {
			t.Errorf("round trip (-parsed +reparsed):\n%s\noutput:\n%s", diff, out)
		}
	}
}

func TestEffectiveMasksPIN(t *testing.T) {
	c := mustParse(t, "modem: {apn: internet, pin: \"98761234\"}")
	out := c.Effective()
	if strings.Contains(out, "98761234") {
		t.Errorf("Effective shows the PIN:\n%s", out)
	}
	if !strings.Contains(out, "pin: '****'") {
		t.Errorf("Effective does not say a PIN is set:\n%s", out)
	}
}

// TestSampleFileDocumentsEveryKey uncomments every key in the sample file,
// examples included: each must parse on its own, and every key of Config
// must be there, so a new key cannot be left out of the file users read.
func TestSampleFileDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`(?m)^(\s*)# ([a-z_0-9]+:( |$))`).ReplaceAll(data, []byte("$1$2"))
	d := &decoder{file: samplePath, lines: map[string]int{}}
	var c Config
	d.walk("", d.document(data), reflect.ValueOf(&c).Elem(), "")
	if len(d.problems) > 0 {
		t.Errorf("sample keys do not parse:\n%v", (&Error{d.problems}).Error())
	}
	var missing []string
	var each func(path string, v reflect.Value)
	each = func(path string, v reflect.Value) {
		for _, f := range fieldsOf(v, "") {
			key := strings.TrimPrefix(path+"."+f.name, ".")
			if _, ok := d.lines[key]; !ok {
				missing = append(missing, key)
			}
			if isSection(f.v.Type()) {
				each(key, f.v)
			}
		}
	}
	each("", reflect.ValueOf(&c).Elem())
	if len(missing) > 0 {
		t.Errorf("the sample file does not document %v", missing)
	}
}

// TestCheckTagsResolve: a check tag that names nothing, or a check of
// another type, would silently check nothing.
func TestCheckTagsResolve(t *testing.T) {
	var each func(path string, v reflect.Value)
	each = func(path string, v reflect.Value) {
		for _, f := range fieldsOf(v, "") {
			key, typ := strings.TrimPrefix(path+"."+f.name, "."), f.v.Type()
			if isSection(typ) {
				each(key, f.v)
				continue
			}
			lo, hi, isRange := strings.Cut(f.check, "..")
			fn := reflect.ValueOf(checks[f.check])
			var ok bool
			switch {
			case f.check == "":
				ok = true
			case isRange && typ == durationType:
				_, err := time.ParseDuration(lo)
				ok = err == nil && hi == ""
			case isRange && typ.Kind() == reflect.Int:
				_, err1 := strconv.Atoi(lo)
				_, err2 := strconv.Atoi(hi)
				ok = err1 == nil && err2 == nil
			case strings.Contains(f.check, "|"):
				ok = typ.Kind() == reflect.String
			case fn.IsValid():
				in := fn.Type().In(0)
				ok = in == typ || typ.Kind() == reflect.Slice && in == typ.Elem()
			}
			if !ok {
				t.Errorf("%s: check %q does not apply to a %s", key, f.check, typ)
			}
		}
	}
	each("", reflect.ValueOf(&Config{}).Elem())
}

// A Check's KeyError lands on the line of its key, or of the closest key
// written under or above it.
func TestCheckErrorsPointAtTheirKey(t *testing.T) {
	src := "modem:\n  apn: internet\nfirewall:\n  lan_interfaces: [eth0]\n  ipv6: false\n"
	for key, line := range map[string]int{"firewall.ipv6": 5, "firewall.forwards[1]": 3, "firewall": 3, "health.listen": 0} {
		check := func(Config) error { return &KeyError{Key: key, Msg: "is wrong; do this"} }
		_, err := Parse("f.yaml", []byte(src), check)
		var e *Error
		if !errors.As(err, &e) || len(e.Problems) != 1 {
			t.Fatalf("%s: Parse = %v, want one problem", key, err)
		}
		if p := e.Problems[0]; p.Line != line || p.Key != key || p.Msg != "is wrong; do this" {
			t.Errorf("%s: problem %+v, want line %d", key, p, line)
		}
	}
}

// A network card dials by itself: its kind alone is a whole config.
func TestNetcardNeedsNoAPN(t *testing.T) {
	c := mustParse(t, "modem:\n  kind: netcard\n")
	if c.Modem.Kind != "netcard" || c.Modem.NetcardInterface != "cell0" {
		t.Errorf("kind netcard: %+v", c.Modem)
	}
}
