package ddns

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/failberry/failberry/internal/config/value"
)

// Config is the `dns:` section of failberry.yaml: which service publishes
// the cellular address, under which name, and the service's own settings.
// Start from DefaultConfig; the zero Config has no provider and so publishes
// nothing. Secrets are never in this struct, only the paths of files (mode
// 0600) that hold them, because failberry.yaml is readable by every user.
type Config struct {
	// Provider is the service: "route53", "dyndns2" (No-IP, Dynu and most
	// others), "duckdns", "cloudflare" or "command". Empty: no DNS updates.
	Provider string `yaml:"provider"`
	// Name is the record to publish, a full name such as vpn.example.com
	// (for DuckDNS the subname, "myhouse" for myhouse.duckdns.org).
	Name string `yaml:"name"`
	// TTL in seconds of the records written (route53, cloudflare). Short, so
	// resolvers follow an address change quickly; default 60.
	TTL int `yaml:"ttl"`
	// Timeout bounds one update attempt, including the command provider's
	// run; default 30s, long enough for a slow 3G link.
	Timeout value.Duration `yaml:"timeout" hint:"30s"`

	Route53    Route53Config    `yaml:"route53"`
	DynDNS2    DynDNS2Config    `yaml:"dyndns2"`
	DuckDNS    DuckDNSConfig    `yaml:"duckdns"`
	Cloudflare CloudflareConfig `yaml:"cloudflare"`
	Command    CommandConfig    `yaml:"command"`
}

// Route53Config is dns.route53: an UPSERT of the cellular member of a
// failover record through ChangeResourceRecordSets.
type Route53Config struct {
	// HostedZoneID is the zone holding Name, such as Z0123456789ABCDEFGHIJ.
	HostedZoneID string `yaml:"hosted_zone_id"`
	// CredentialsFile is an AWS shared credentials file (mode 0600) with
	// aws_access_key_id and aws_secret_access_key (and aws_session_token if
	// any) under [Profile]; default /etc/failberry/aws-credentials. Give the
	// key route53:ChangeResourceRecordSets on this zone only.
	CredentialsFile string `yaml:"credentials_file"`
	// Profile is the section of CredentialsFile to use; default "default".
	Profile string `yaml:"profile"`
	// SetIdentifier, Failover and HealthCheckID describe the record set as
	// it exists in the zone. An UPSERT replaces the whole record set named by
	// name, type and set identifier, so for the cellular member of a failover
	// record they must be given as it was created (typically "cellular",
	// "SECONDARY" and the id of the /cellular health check); without them
	// Route 53 would refuse to put a plain record beside the failover ones.
	// All three empty: a plain (simple routing) record.
	SetIdentifier string `yaml:"set_identifier"`
	Failover      string `yaml:"failover"` // "PRIMARY" or "SECONDARY"
	HealthCheckID string `yaml:"health_check_id"`
	// Endpoint replaces the Route 53 API address (a test server, a
	// compatible service). Empty: AWS's own, https://route53.amazonaws.com.
	Endpoint string `yaml:"endpoint"`
}

// DynDNS2Config is dns.dyndns2: GET /nic/update with basic auth, the
// protocol of No-IP, Dynu and most dynamic DNS services.
type DynDNS2Config struct {
	// Server is the service's update address, such as
	// https://dynupdate.no-ip.com or https://api.dynu.com; required.
	Server string `yaml:"server"`
	// Username is the account or DDNS key user name.
	Username string `yaml:"username"`
	// PasswordFile holds the password (mode 0600), trailing newline ignored.
	PasswordFile string `yaml:"password_file"`
}

// DuckDNSConfig is dns.duckdns: GET /update?domains=..&token=.. .
type DuckDNSConfig struct {
	// TokenFile holds the account token (mode 0600).
	TokenFile string `yaml:"token_file"`
	// Server is the API address; default https://www.duckdns.org.
	Server string `yaml:"server"`
}

// CloudflareConfig is dns.cloudflare: API v4, the record looked up by name
// and type, then overwritten (or created when missing).
type CloudflareConfig struct {
	// ZoneID is the zone's identifier from the dashboard's overview page.
	ZoneID string `yaml:"zone_id"`
	// TokenFile holds an API token with DNS Edit on that zone (mode 0600).
	TokenFile string `yaml:"token_file"`
	// API is the API base; default https://api.cloudflare.com/client/v4.
	API string `yaml:"api"`
}

// CommandConfig is dns.command: a program for any other service.
type CommandConfig struct {
	// Argv is the program and its arguments, run without a shell. It gets
	// FAILBERRY_DDNS_NAME, FAILBERRY_DDNS_TYPE (A or AAAA) and
	// FAILBERRY_DDNS_ADDR in its environment; exit status 0 means published,
	// 2 means refused for good (stop retrying), anything else retry later.
	// It is killed, with its children, after Timeout.
	Argv []string `yaml:"argv"`
}

// Provider names.
const (
	ProviderRoute53    = "route53"
	ProviderDynDNS2    = "dyndns2"
	ProviderDuckDNS    = "duckdns"
	ProviderCloudflare = "cloudflare"
	ProviderCommand    = "command"
)

// DefaultConfig returns the defaults: no provider, TTL 60, 30 s per attempt,
// and each service's public address.
func DefaultConfig() Config {
	return Config{
		TTL:     60,
		Timeout: value.Duration(30 * time.Second),
		Route53: Route53Config{
			CredentialsFile: "/etc/failberry/aws-credentials",
			Profile:         "default",
		},
		DuckDNS:    DuckDNSConfig{Server: "https://www.duckdns.org"},
		Cloudflare: CloudflareConfig{API: "https://api.cloudflare.com/client/v4"},
	}
}

// Enabled reports whether a provider is set.
func (c Config) Enabled() bool { return c.Provider != "" }

// Check reports the first problem in c, naming its key under dns. as the
// user wrote it. Only the chosen provider's section is checked; secret files
// are read at each update, not here, so that `failberry check` does not need
// them to exist yet.
func (c Config) Check() error {
	if !c.Enabled() {
		return nil
	}
	switch c.Provider {
	case ProviderRoute53, ProviderDynDNS2, ProviderDuckDNS, ProviderCloudflare, ProviderCommand:
	default:
		return keyErr("provider", "%q is not a provider; use route53, dyndns2, duckdns, cloudflare or command", c.Provider)
	}
	if c.Name == "" {
		return keyErr("name", "required with provider %s; the record to publish, such as vpn.example.com", c.Provider)
	}
	if c.Provider != ProviderDuckDNS && c.Provider != ProviderCommand && !strings.Contains(c.Name, ".") {
		return keyErr("name", "%q is not a full name; write it with its domain, such as vpn.example.com", c.Name)
	}
	if c.TTL < 1 || c.TTL > 86400 {
		return keyErr("ttl", "%d is out of range; use seconds from 1 to 86400, such as 60", c.TTL)
	}
	if t := time.Duration(c.Timeout); t < time.Second || t > 10*time.Minute {
		return keyErr("timeout", "%v is out of range; use 1s to 10m, such as 30s", c.Timeout)
	}
	switch c.Provider {
	case ProviderRoute53:
		r := c.Route53
		if r.HostedZoneID == "" {
			return keyErr("route53.hosted_zone_id", "required; the id of the zone holding %s, such as Z0123456789ABCDEFGHIJ", c.Name)
		}
		if err := checkFile("route53.credentials_file", r.CredentialsFile); err != nil {
			return err
		}
		if r.Profile == "" {
			return keyErr("route53.profile", "empty; use the credentials file's section name, such as default")
		}
		if r.Failover != "" && r.Failover != "PRIMARY" && r.Failover != "SECONDARY" {
			return keyErr("route53.failover", "%q is neither PRIMARY nor SECONDARY", r.Failover)
		}
		if (r.Failover == "") != (r.SetIdentifier == "") {
			return keyErr("route53.set_identifier", "a failover record needs both set_identifier and failover, as the record was created")
		}
		if r.HealthCheckID != "" && r.Failover == "" {
			return keyErr("route53.health_check_id", "only a failover record has a health check here; set failover and set_identifier too")
		}
		if r.Endpoint != "" {
			return checkURL("route53.endpoint", r.Endpoint)
		}
	case ProviderDynDNS2:
		d := c.DynDNS2
		if err := checkURL("dyndns2.server", d.Server); err != nil {
			return err
		}
		if d.Username == "" {
			return keyErr("dyndns2.username", "required; the account or DDNS key user name")
		}
		return checkFile("dyndns2.password_file", d.PasswordFile)
	case ProviderDuckDNS:
		if strings.Contains(c.Name, ".") && !strings.HasSuffix(c.Name, ".duckdns.org") {
			return keyErr("name", "%q is not a DuckDNS name; give the subname, such as myhouse for myhouse.duckdns.org", c.Name)
		}
		if err := checkFile("duckdns.token_file", c.DuckDNS.TokenFile); err != nil {
			return err
		}
		return checkURL("duckdns.server", c.DuckDNS.Server)
	case ProviderCloudflare:
		cf := c.Cloudflare
		if cf.ZoneID == "" {
			return keyErr("cloudflare.zone_id", "required; the zone id from the domain's overview page in the dashboard")
		}
		if c.TTL != 1 && c.TTL < 60 {
			return keyErr("ttl", "%d is below Cloudflare's least of 60; use 60, or 1 for automatic", c.TTL)
		}
		if err := checkFile("cloudflare.token_file", cf.TokenFile); err != nil {
			return err
		}
		return checkURL("cloudflare.api", cf.API)
	case ProviderCommand:
		if len(c.Command.Argv) == 0 || c.Command.Argv[0] == "" {
			return keyErr("command.argv", "required with provider command; the program and its arguments, such as [/usr/local/bin/update-dns]")
		}
		if !filepath.IsAbs(c.Command.Argv[0]) {
			return keyErr("command.argv", "%q is not an absolute path; the daemon has no useful PATH", c.Command.Argv[0])
		}
	}
	return nil
}

// target names what a published address belongs to. The state file stores
// it, so an address remembered for another provider, zone or name is not
// taken as already published after a config change.
func (c Config) target() string {
	switch c.Provider {
	case ProviderRoute53:
		r := c.Route53
		return strings.Join([]string{c.Provider, r.Endpoint, r.HostedZoneID, c.Name, r.SetIdentifier}, " ")
	case ProviderDynDNS2:
		return strings.Join([]string{c.Provider, c.DynDNS2.Server, c.DynDNS2.Username, c.Name}, " ")
	case ProviderDuckDNS:
		return strings.Join([]string{c.Provider, c.DuckDNS.Server, c.Name}, " ")
	case ProviderCloudflare:
		return strings.Join([]string{c.Provider, c.Cloudflare.API, c.Cloudflare.ZoneID, c.Name}, " ")
	default:
		return strings.Join(append([]string{c.Provider, c.Name}, c.Command.Argv...), " ")
	}
}

// NewProvider returns the provider c describes, which must pass Check.
// client carries the HTTP providers' requests; nil means a plain client
// (attempts are bounded by the Updater's context, not a client timeout)
// that opens a new connection for every request: updates are hours apart,
// and a connection kept from before an address change is bound to an
// address the link no longer has, so a request on it would hang until its
// time limit (seen on the bench after a redial with a new address).
func NewProvider(c Config, client *http.Client) (Provider, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true
		client = &http.Client{Transport: t}
	}
	switch c.Provider {
	case ProviderRoute53:
		return newRoute53(c, client), nil
	case ProviderDynDNS2:
		return &DynDNS2{Server: c.DynDNS2.Server, Username: c.DynDNS2.Username, PasswordFile: c.DynDNS2.PasswordFile, Client: client}, nil
	case ProviderDuckDNS:
		return &DuckDNS{Server: c.DuckDNS.Server, TokenFile: c.DuckDNS.TokenFile, Client: client}, nil
	case ProviderCloudflare:
		return &Cloudflare{API: c.Cloudflare.API, ZoneID: c.Cloudflare.ZoneID, TokenFile: c.Cloudflare.TokenFile, TTL: c.TTL, Client: client}, nil
	case ProviderCommand:
		return &Command{Argv: c.Command.Argv}, nil
	}
	return nil, errors.New("dns.provider: not set")
}

// KeyError is a problem with one key of the dns section: Check returns it
// so the config can point at the key's line.
type KeyError struct {
	Key string // under dns., e.g. "route53.hosted_zone_id"
	Msg string // what is wrong and what to write instead
}

func (e *KeyError) Error() string { return "dns." + e.Key + ": " + e.Msg }

// ConfigKey names the key in the whole config, for its line in messages.
func (e *KeyError) ConfigKey() (key, msg string) { return "dns." + e.Key, e.Msg }

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

func checkFile(key, path string) error {
	if path == "" {
		return keyErr(key, "required; the path of a file of mode 0600 holding the secret")
	}
	if !filepath.IsAbs(path) {
		return keyErr(key, "%q is not an absolute path", path)
	}
	return nil
}

func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return keyErr(key, "%q is not an http(s) address, such as https://example.com", s)
	}
	if u.RawQuery != "" || u.User != nil {
		return keyErr(key, "%q has a query or a user in it; give the address only, the secret in its file", s)
	}
	return nil
}
