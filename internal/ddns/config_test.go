package ddns

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// sampleConfig is the README's example, as it would sit under dns:.
const sampleConfig = `
provider: route53
name: vpn.example.com
ttl: 60
timeout: 20s
route53:
  hosted_zone_id: Z0123456789ABCDEFGHIJ
  credentials_file: /etc/failberry/aws-credentials
  set_identifier: cellular
  failover: SECONDARY
  health_check_id: abcdef11-2222-3333-4444-555555fedcba
`

func TestConfigDecodesStrictly(t *testing.T) {
	c := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(sampleConfig))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Timeout) != 20*time.Second || c.Route53.Profile != "default" || c.Route53.Failover != "SECONDARY" {
		t.Errorf("decoded %+v", c)
	}

	dec = yaml.NewDecoder(strings.NewReader("provider: duckdns\ntokenfile: /x\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err == nil || !strings.Contains(err.Error(), "tokenfile") {
		t.Errorf("unknown key: %v, want it named", err)
	}
}

func TestConfigCheckNamesTheKey(t *testing.T) {
	r53 := func(f func(*Config)) Config {
		c := DefaultConfig()
		c.Provider, c.Name = ProviderRoute53, "vpn.example.com"
		c.Route53.HostedZoneID = "Z1"
		f(&c)
		return c
	}
	other := func(p string, f func(*Config)) Config {
		c := DefaultConfig()
		c.Provider, c.Name = p, "vpn.example.com"
		c.DynDNS2 = DynDNS2Config{Server: "https://dynupdate.no-ip.com", Username: "u", PasswordFile: "/etc/failberry/ddns-password"}
		c.DuckDNS.TokenFile = "/etc/failberry/duckdns-token"
		c.Cloudflare.ZoneID, c.Cloudflare.TokenFile = "z", "/etc/failberry/cloudflare-token"
		c.Command.Argv = []string{"/usr/local/bin/update-dns"}
		f(&c)
		return c
	}
	none := func(*Config) {}
	for _, tc := range []struct {
		c   Config
		key string // "" means valid
	}{
		{Config{}, ""},
		{r53(none), ""},
		{other(ProviderDynDNS2, none), ""},
		{other(ProviderCloudflare, none), ""},
		{other(ProviderCommand, none), ""},
		{other(ProviderDuckDNS, func(c *Config) { c.Name = "myhouse" }), ""},
		{r53(func(c *Config) { c.Provider = "route-53" }), "dns.provider"},
		{r53(func(c *Config) { c.Name = "" }), "dns.name"},
		{r53(func(c *Config) { c.Name = "vpn" }), "dns.name"},
		{r53(func(c *Config) { c.TTL = 0 }), "dns.ttl"},
		{r53(func(c *Config) { c.Timeout = 0 }), "dns.timeout"},
		{r53(func(c *Config) { c.Route53.HostedZoneID = "" }), "dns.route53.hosted_zone_id"},
		{r53(func(c *Config) { c.Route53.CredentialsFile = "aws-credentials" }), "dns.route53.credentials_file"},
		{r53(func(c *Config) { c.Route53.Failover = "secondary"; c.Route53.SetIdentifier = "cellular" }), "dns.route53.failover"},
		{r53(func(c *Config) { c.Route53.Failover = "SECONDARY" }), "dns.route53.set_identifier"},
		{r53(func(c *Config) { c.Route53.HealthCheckID = "abc" }), "dns.route53.health_check_id"},
		{r53(func(c *Config) { c.Route53.Endpoint = "localhost:8080" }), "dns.route53.endpoint"},
		{other(ProviderDynDNS2, func(c *Config) { c.DynDNS2.Server = "https://u:p@dynupdate.no-ip.com" }), "dns.dyndns2.server"},
		{other(ProviderDynDNS2, func(c *Config) { c.DynDNS2.Username = "" }), "dns.dyndns2.username"},
		{other(ProviderDynDNS2, func(c *Config) { c.DynDNS2.PasswordFile = "" }), "dns.dyndns2.password_file"},
		{other(ProviderDuckDNS, func(c *Config) { c.Name = "vpn.example.com" }), "dns.name"},
		{other(ProviderDuckDNS, func(c *Config) { c.Name = "myhouse"; c.DuckDNS.TokenFile = "" }), "dns.duckdns.token_file"},
		{other(ProviderCloudflare, func(c *Config) { c.Cloudflare.ZoneID = "" }), "dns.cloudflare.zone_id"},
		{other(ProviderCloudflare, func(c *Config) { c.TTL = 30 }), "dns.ttl"},
		{other(ProviderCommand, func(c *Config) { c.Command.Argv = nil }), "dns.command.argv"},
		{other(ProviderCommand, func(c *Config) { c.Command.Argv = []string{"update-dns"} }), "dns.command.argv"},
	} {
		err := tc.c.Check()
		switch {
		case tc.key == "" && err != nil:
			t.Errorf("%s: unexpected %v", tc.c.Provider, err)
		case tc.key != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.key+": ")):
			t.Errorf("%s: got %v, want an error for %s", tc.c.Provider, err, tc.key)
		}
	}
}
