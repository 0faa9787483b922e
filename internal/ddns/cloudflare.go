package ddns

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Cloudflare updates a record through API v4 with an API token:
//
//	GET   {API}/zones/{zone}/dns_records?type=A&name=NAME   find it
//	PATCH {API}/zones/{zone}/dns_records/{id}  {"content","ttl"}  change it
//	POST  {API}/zones/{zone}/dns_records       {"type","name","content","ttl","proxied":false}  when missing
//
// PATCH rather than PUT, so the record's proxied flag and comment, which the
// user set in the dashboard, stay as they are. A record that already holds
// the address and TTL is not written. Answers are the v4 envelope
// {"success", "errors": [{"code", "message"}], "result"}; 401 and 403 (a bad
// or too narrow token) and other 4xx are refusals, 429 and 5xx are retried.
type Cloudflare struct {
	API       string // https://api.cloudflare.com/client/v4
	ZoneID    string
	TokenFile string // mode 0600, read at each update
	TTL       int    // 1 means automatic
	Client    *http.Client
}

type cfRecord struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type,omitempty"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
	Proxied *bool  `json:"proxied,omitempty"`
}

type cfEnvelope struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result json.RawMessage `json:"result"`
}

// Update implements Provider.
func (c *Cloudflare) Update(ctx context.Context, name string, addr netip.Addr) error {
	tok, err := readSecret("cloudflare.token_file", c.TokenFile)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(tok))
	base := strings.TrimSuffix(c.API, "/") + "/zones/" + url.PathEscape(c.ZoneID) + "/dns_records"
	typ := recordType(addr)

	var found []cfRecord
	q := url.Values{"type": {typ}, "name": {name}}
	if err := c.call(ctx, token, http.MethodGet, base+"?"+q.Encode(), nil, &found); err != nil {
		return fmt.Errorf("finding the %s record: %w", typ, err)
	}
	switch len(found) {
	case 0:
		no := false
		rec := cfRecord{Type: typ, Name: name, Content: addr.String(), TTL: c.TTL, Proxied: &no}
		if err := c.call(ctx, token, http.MethodPost, base, rec, nil); err != nil {
			return fmt.Errorf("creating the %s record: %w", typ, err)
		}
		return nil
	case 1:
		r := found[0]
		if cur, err := netip.ParseAddr(r.Content); err == nil && cur == addr && r.TTL == c.TTL {
			return nil
		}
		patch := cfRecord{Content: addr.String(), TTL: c.TTL}
		if err := c.call(ctx, token, http.MethodPatch, base+"/"+url.PathEscape(r.ID), patch, nil); err != nil {
			return fmt.Errorf("changing the %s record: %w", typ, err)
		}
		return nil
	default:
		return &PermanentError{Reason: "several records", Err: fmt.Errorf(
			"%d %s records named %s; failberry keeps exactly one, delete the others", len(found), typ, name)}
	}
}

// call sends one API request with body as JSON (if not nil) and decodes the
// envelope's result into out (if not nil).
func (c *Cloudflare) call(ctx context.Context, token, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return &PermanentError{Reason: "cloudflare.api", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	code, data, h, err := do(ctx, c.Client, req)
	if err != nil {
		return err
	}
	var env cfEnvelope
	jerr := json.Unmarshal(data, &env)
	if code/100 != 2 || jerr != nil || !env.Success {
		detail := firstLine(string(data))
		if jerr == nil && len(env.Errors) > 0 {
			detail = fmt.Sprintf("%d %s", env.Errors[0].Code, env.Errors[0].Message)
		}
		if code/100 == 2 {
			return &TransientError{Reason: "unexpected answer", Err: errStr(detail)}
		}
		return statusError(code, h, detail)
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return &TransientError{Reason: "unexpected answer", Err: err}
		}
	}
	return nil
}
