package ddns

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// DynDNS2 speaks the dyndns2 protocol as No-IP and Dynu document it:
//
//	GET {Server}/nic/update?hostname=NAME&myip=ADDR   (myipv6=ADDR for AAAA)
//	Authorization: Basic user:password
//
// answered by a line: "good ADDR" or "nochg ADDR" on success; "badauth",
// "nohost", "badagent", "abuse", "!donator", "notfqdn", "numhost" are
// refusals that need the user (No-IP: the client must not send again); "911"
// and "dnserr" are the service's own trouble, to retry no sooner than 30
// minutes. The address is always sent, never left to the service to guess:
// the request may leave by whichever link holds the default route.
type DynDNS2 struct {
	Server       string // such as https://dynupdate.no-ip.com
	Username     string
	PasswordFile string // mode 0600, read at each update
	Client       *http.Client
}

// outageWait is how long No-IP asks clients to wait after a "911".
const outageWait = 30 * time.Minute

// Update implements Provider.
func (d *DynDNS2) Update(ctx context.Context, name string, addr netip.Addr) error {
	pw, err := readSecret("dyndns2.password_file", d.PasswordFile)
	if err != nil {
		return err
	}
	q := url.Values{"hostname": {name}}
	if addr.Is4() {
		q.Set("myip", addr.String())
	} else {
		q.Set("myipv6", addr.String())
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(d.Server, "/")+"/nic/update?"+q.Encode(), nil)
	if err != nil {
		return &PermanentError{Reason: "dyndns2.server", Err: err}
	}
	req.SetBasicAuth(d.Username, strings.TrimRight(string(pw), "\r\n"))
	code, body, h, err := do(ctx, d.Client, req)
	if err != nil {
		return err
	}
	answer := strings.TrimSpace(string(body))
	word, _, _ := strings.Cut(answer, " ")
	switch word {
	case "good", "nochg":
		return nil
	case "badauth", "nohost", "badagent", "abuse", "!donator", "notfqdn", "numhost", "!yours":
		return &PermanentError{Reason: word}
	case "911", "dnserr":
		return &TransientError{Reason: word, RetryAfter: max(outageWait, retryAfter(h))}
	}
	if code/100 != 2 {
		return statusError(code, h, firstLine(answer))
	}
	return &TransientError{Reason: "unexpected answer " + quoteShort(answer)}
}

// firstLine returns the first line of s, shortened for a log line.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 120 {
		line = line[:120] + "..."
	}
	return line
}

func quoteShort(s string) string { return `"` + firstLine(s) + `"` }
