// Package ddns publishes the cellular address in DNS, so that inbound traffic
// (a VPN into the house) can follow a failover record to the cellular link.
//
// A Provider speaks one DNS service's update protocol (Route 53, dyndns2,
// DuckDNS, Cloudflare, or a command for anything else). An Updater decides
// when to call it: at start, on every change of address, and once a day; it
// retries transient failures with a bounded exponential backoff, stops on a
// permanent refusal (bad credentials, abuse), and never sends an address the
// provider already has, in memory or across a restart through a small state
// file, because dynamic DNS services block clients that repeat themselves.
package ddns

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// Provider updates one DNS record of one service. Update sets the A record
// of name (for an IPv4 addr) or its AAAA record (IPv6) to addr. It returns nil
// once the service has accepted the address (also when it answers that
// nothing changed), a *PermanentError when retrying cannot help, and any
// other error for a failure worth retrying; a *TransientError may say how
// long to wait first. Update must return when ctx is done.
type Provider interface {
	Update(ctx context.Context, name string, addr netip.Addr) error
}

// PermanentError is a refusal that the same request would get again: bad
// credentials, an unknown host, a client blocked for abuse. The Updater stops
// retrying the address until it or the config changes, and reports it, since
// services such as No-IP block clients that keep sending after such answers.
type PermanentError struct {
	Reason string // the service's own word where it has one: "badauth", "KO", "HTTP 403"
	Err    error  // detail, may be nil
}

func (e *PermanentError) Error() string {
	if e.Err == nil {
		return "refused: " + e.Reason
	}
	return fmt.Sprintf("refused: %s: %v", e.Reason, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// TransientError is a failure that may pass (a 5xx, a rate limit, the
// service's own outage). RetryAfter, when not zero, is the least wait the
// service asked for (a Retry-After header, or No-IP's "911: retry no sooner
// than 30 minutes"); the Updater waits for the longer of it and its backoff.
// Errors of other types are treated as transient too.
type TransientError struct {
	Reason     string
	RetryAfter time.Duration
	Err        error // detail, may be nil
}

func (e *TransientError) Error() string {
	if e.Err == nil {
		return "failed: " + e.Reason
	}
	return fmt.Sprintf("failed: %s: %v", e.Reason, e.Err)
}

func (e *TransientError) Unwrap() error { return e.Err }

// recordType is the DNS record type that holds addr.
func recordType(addr netip.Addr) string {
	if addr.Is4() {
		return "A"
	}
	return "AAAA"
}
