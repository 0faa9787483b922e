package ddns

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// DuckDNS speaks DuckDNS's HTTP API as its spec page documents it:
//
//	GET {Server}/update?domains=SUBNAME&token=TOKEN&ip=ADDR     (A)
//	GET {Server}/update?domains=SUBNAME&token=TOKEN&ipv6=ADDR   (AAAA)
//
// answered by "OK" or "KO". KO is all DuckDNS says for a bad token or a
// domain not in the account, so it is taken as a refusal. The address is
// always given: left out, DuckDNS would take the request's source address,
// and ipv6= alone leaves the A record as it is.
type DuckDNS struct {
	Server    string // https://www.duckdns.org
	TokenFile string // mode 0600, read at each update
	Client    *http.Client
}

// Update implements Provider. name may be "myhouse" or "myhouse.duckdns.org".
func (d *DuckDNS) Update(ctx context.Context, name string, addr netip.Addr) error {
	tok, err := readSecret("duckdns.token_file", d.TokenFile)
	if err != nil {
		return err
	}
	q := url.Values{
		"domains": {strings.TrimSuffix(name, ".duckdns.org")},
		"token":   {strings.TrimSpace(string(tok))},
	}
	if addr.Is4() {
		q.Set("ip", addr.String())
	} else {
		q.Set("ipv6", addr.String())
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(d.Server, "/")+"/update?"+q.Encode(), nil)
	if err != nil {
		return &PermanentError{Reason: "duckdns.server", Err: err}
	}
	code, body, h, err := do(ctx, d.Client, req)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return statusError(code, h, firstLine(string(body)))
	}
	switch answer, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n"); answer {
	case "OK":
		return nil
	case "KO":
		return &PermanentError{Reason: "KO", Err: errStr("bad token or a domain not in the account")}
	default:
		return &TransientError{Reason: "unexpected answer " + quoteShort(answer)}
	}
}

// errStr is an error that is only its text.
type errStr string

func (e errStr) Error() string { return string(e) }
