package firewall

import (
	"fmt"
	"log/slog"

	"github.com/coreos/go-iptables/iptables"
)

// Tables is the part of go-iptables the firewall uses, one per address
// family. *iptables.IPTables satisfies it; tests use a map-backed fake. A
// Tables that also implements Batch is only read and written through Batch.
type Tables interface {
	// ListChains lists the built-in and user chains of a table.
	ListChains(table string) ([]string, error)
	// List lists a chain like `iptables -S CHAIN`: "-N"/"-P" line then "-A" rules.
	List(table, chain string) ([]string, error)
	// ListById returns rule number id (1-based) of a chain, as "-A CHAIN ...".
	ListById(table, chain string, id int) (string, error)
	// NewChain creates a user chain; it fails if it exists.
	NewChain(table, chain string) error
	// ClearChain flushes a chain, creating it when missing.
	ClearChain(table, chain string) error
	// DeleteChain deletes an empty, unreferenced user chain.
	DeleteChain(table, chain string) error
	// Insert inserts a rule at position pos (1-based).
	Insert(table, chain string, pos int, rulespec ...string) error
	// DeleteById deletes rule number id (1-based).
	DeleteById(table, chain string, id int) error
}

var _ Tables = (*iptables.IPTables)(nil)

// lockWaitSeconds bounds how long a call waits for the xtables lock held by
// another program (docker, an admin) instead of failing at once.
const lockWaitSeconds = 5

// NewSystem returns a Firewall over the real iptables (and ip6tables when
// ipv6 is set), found on PATH as Debian's alternatives choose them (nft or
// legacy), waiting for the xtables lock. Changes go through the matching
// iptables-restore (see Batch) when it is installed.
func NewSystem(logger *slog.Logger, ipv6 bool) (*Firewall, error) {
	v4, err := newSystemTables("iptables", iptables.ProtocolIPv4)
	if err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}
	var v6 Tables
	if ipv6 {
		if v6, err = newSystemTables("ip6tables", iptables.ProtocolIPv6); err != nil {
			return nil, fmt.Errorf("ip6tables: %w", err)
		}
	}
	fw := New(v4, v6, logger)
	if _, ok := v4.(Batch); !ok {
		fw.log.Warn("iptables-save/iptables-restore not found next to iptables; applying rule by rule (slow)")
	}
	return fw, nil
}
