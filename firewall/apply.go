package firewall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// ErrNoIPv6 is returned by Apply when the Ruleset has IPv6 rules but the
// Firewall was made without ip6tables.
var ErrNoIPv6 = errors.New("firewall has no ip6tables")

// builtins are the built-in chains of each managed table, where Cleanup looks
// for jumps into owned chains.
var builtins = map[string][]string{
	tableFilter: {"INPUT", "FORWARD", "OUTPUT"},
	tableNAT:    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	tableMangle: {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
}

// Firewall converges the kernel's rules to a Ruleset. It is not safe for
// concurrent use: the daemon owns one and calls it from one goroutine.
type Firewall struct {
	v4, v6 Tables
	log    *slog.Logger

	// Repaired, when set, is called by Keep after a pass that had to restore
	// rules (the daemon turns it into a journal event). It must not block.
	Repaired func(changes []string)
}

// New returns a Firewall over the given tables; v6 may be nil when IPv6 is
// off. A nil logger discards.
func New(v4, v6 Tables, logger *slog.Logger) *Firewall {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Firewall{v4: v4, v6: v6, log: logger.With("component", "firewall")}
}

type family struct {
	name  string
	t     Tables
	rules Rules
}

func (f *Firewall) families(r Ruleset) []family {
	return []family{{"ipv4", f.v4, r.V4}, {"ipv6", f.v6, r.V6}}
}

// Apply converges the kernel to r: owned chains exist with exactly r's rules
// (missing rules are inserted before extra ones are deleted, so the WAN is
// never open in between), each built-in chain has exactly one jump at its
// top, and owned chains r no longer describes are removed. Applying the same
// Ruleset twice changes nothing the second time.
//
// With a Batch (the real system) this costs one iptables-save per family and,
// only when something differs, one iptables-restore --noflush whose table
// blocks are atomic: even better than adding before deleting, packets see
// the old rules or the new ones, never a mix.
func (f *Firewall) Apply(ctx context.Context, r Ruleset) error {
	changes, err := f.converge(ctx, r)
	if len(changes) > 0 {
		f.log.Info("firewall rules applied", "changes", len(changes))
	}
	return err
}

// converge does the work of Apply and returns a description of every change.
// The families converge concurrently: they share nothing in the kernel, and
// on a Pi each iptables exec costs tens of milliseconds the daemon's start
// waits for.
func (f *Firewall) converge(ctx context.Context, r Ruleset) ([]string, error) {
	fams := f.families(r)
	changes := make([][]string, len(fams))
	errs := make([]error, len(fams))
	var wg sync.WaitGroup
	for i, fam := range fams {
		if fam.t == nil {
			if !fam.rules.Empty() {
				errs[i] = fmt.Errorf("apply %s: %w", fam.name, ErrNoIPv6)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &converger{t: fam.t}
			if err := c.converge(ctx, fam.rules); err != nil {
				errs[i] = fmt.Errorf("apply %s: %w", fam.name, err)
			}
			for _, ch := range c.changes {
				changes[i] = append(changes[i], fam.name+": "+ch)
			}
		}()
	}
	wg.Wait()
	return slices.Concat(changes...), errors.Join(errs...)
}

// converger applies one family and records what it changed.
type converger struct {
	t       Tables
	changes []string
}

func (c *converger) changed(format string, args ...any) {
	c.changes = append(c.changes, fmt.Sprintf(format, args...))
}

// converge takes the batch path when the Tables has one. ctx bounds the
// batch path's program runs; go-iptables' per-rule calls cannot be cancelled
// (each waits at most lockWaitSeconds for the lock), so ctx is only checked
// before they start.
func (c *converger) converge(ctx context.Context, r Rules) error {
	if b, ok := c.t.(Batch); ok {
		return c.runBatch(ctx, b, r)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.run(r)
}

// run converges rule by rule, one iptables call each.
func (c *converger) run(r Rules) error {
	existing := map[string][]string{} // table -> chains
	for _, table := range managedTables {
		chains, err := c.t.ListChains(table)
		if err != nil {
			return fmt.Errorf("listing %s chains: %w", table, err)
		}
		existing[table] = chains
	}
	for _, ch := range r.Chains {
		if err := c.syncChain(ch, slices.Contains(existing[ch.Table], ch.Name)); err != nil {
			return err
		}
	}
	for _, j := range r.Jumps {
		if err := c.syncJump(j); err != nil {
			return err
		}
	}
	for _, table := range managedTables {
		if !r.manages(table) {
			continue
		}
		var stale []string
		for _, name := range existing[table] {
			if strings.HasPrefix(name, ChainPrefix) && !describes(r, table, name) {
				stale = append(stale, name)
			}
		}
		if err := c.removeChains(table, existing[table], stale); err != nil {
			return err
		}
	}
	return nil
}

func describes(r Rules, table, name string) bool {
	return slices.ContainsFunc(r.Chains, func(c Chain) bool { return c.Table == table && c.Name == name })
}

// syncChain makes an owned chain hold exactly ch.Rules. Walking the wanted
// rules in order, a rule that is not already in place is inserted there; the
// leftovers, now all after the wanted rules, are deleted last.
func (c *converger) syncChain(ch Chain, exists bool) error {
	if !exists {
		if err := c.t.NewChain(ch.Table, ch.Name); err != nil {
			return fmt.Errorf("creating chain %s/%s: %w", ch.Table, ch.Name, err)
		}
		c.changed("created chain %s/%s", ch.Table, ch.Name)
	}
	got, err := c.listRules(ch.Table, ch.Name)
	if err != nil {
		return err
	}
	for i, want := range ch.Rules {
		if i < len(got) && got[i] == want {
			continue
		}
		if err := c.t.Insert(ch.Table, ch.Name, i+1, strings.Fields(want)...); err != nil {
			return fmt.Errorf("inserting into %s/%s %q: %w", ch.Table, ch.Name, want, err)
		}
		got = slices.Insert(got, i, want)
		c.changed("inserted %s/%s #%d %q", ch.Table, ch.Name, i+1, want)
	}
	for n := len(got); n > len(ch.Rules); n-- {
		if err := c.t.DeleteById(ch.Table, ch.Name, n); err != nil {
			return fmt.Errorf("deleting %s/%s #%d %q: %w", ch.Table, ch.Name, n, got[n-1], err)
		}
		c.changed("deleted %s/%s #%d %q", ch.Table, ch.Name, n, got[n-1])
	}
	return nil
}

// syncJump leaves exactly one jump to j.To in j.From, at the top: a new one
// is inserted first, then the others are deleted.
func (c *converger) syncJump(j Jump) error {
	got, err := c.listRules(j.Table, j.From)
	if err != nil {
		return err
	}
	if len(got) == 0 || got[0] != j.Spec() {
		if err := c.t.Insert(j.Table, j.From, 1, strings.Fields(j.Spec())...); err != nil {
			return fmt.Errorf("inserting jump %s/%s -> %s: %w", j.Table, j.From, j.To, err)
		}
		got = slices.Insert(got, 0, j.Spec())
		c.changed("inserted jump %s/%s -> %s", j.Table, j.From, j.To)
	}
	for n := len(got); n > 1; n-- {
		if targets(got[n-1], j.To) {
			if err := c.deleteForeign(j.Table, j.From, n, got[n-1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteForeign deletes rule number n of a chain we do not own after checking
// it is still the rule we listed, so a concurrent change by another program
// never makes us delete its rule.
func (c *converger) deleteForeign(table, chain string, n int, rule string) error {
	now, err := c.t.ListById(table, chain, n)
	if err != nil {
		return fmt.Errorf("listing %s/%s #%d: %w", table, chain, n, err)
	}
	if now != "-A "+chain+" "+rule {
		return fmt.Errorf("%s/%s #%d changed while converging (%q), will retry", table, chain, n, now)
	}
	if err := c.t.DeleteById(table, chain, n); err != nil {
		return fmt.Errorf("deleting %s/%s #%d %q: %w", table, chain, n, rule, err)
	}
	c.changed("deleted %s/%s #%d %q", table, chain, n, rule)
	return nil
}

// removeChains deletes the jumps into the given owned chains from the
// built-in chains, then flushes and deletes the chains.
func (c *converger) removeChains(table string, present, names []string) error {
	if len(names) == 0 {
		return nil
	}
	for _, from := range builtins[table] {
		if !slices.Contains(present, from) {
			continue
		}
		got, err := c.listRules(table, from)
		if err != nil {
			return err
		}
		for n := len(got); n >= 1; n-- {
			if slices.ContainsFunc(names, func(to string) bool { return targets(got[n-1], to) }) {
				if err := c.deleteForeign(table, from, n, got[n-1]); err != nil {
					return err
				}
			}
		}
	}
	for _, name := range names {
		if err := c.t.ClearChain(table, name); err != nil {
			return fmt.Errorf("flushing %s/%s: %w", table, name, err)
		}
	}
	for _, name := range names {
		if err := c.t.DeleteChain(table, name); err != nil {
			return fmt.Errorf("deleting chain %s/%s: %w", table, name, err)
		}
		c.changed("removed chain %s/%s", table, name)
	}
	return nil
}

// listRules lists a chain's rules as specs, without the "-A CHAIN " prefix.
func (c *converger) listRules(table, chain string) ([]string, error) {
	lines, err := c.t.List(table, chain)
	if err != nil {
		return nil, fmt.Errorf("listing %s/%s: %w", table, chain, err)
	}
	prefix := "-A " + chain + " "
	var rules []string
	for _, l := range lines {
		if spec, ok := strings.CutPrefix(l, prefix); ok {
			rules = append(rules, spec)
		}
	}
	return rules, nil
}

// targets reports whether a rule spec jumps or goes to chain.
func targets(rule, chain string) bool {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if (f[i] == "-j" || f[i] == "-g") && f[i+1] == chain {
			return true
		}
	}
	return false
}

// Cleanup removes every jump into an owned chain and every owned chain, in
// both families. The daemon calls it at a clean stop (at start, Apply
// converges over whatever a crashed run left instead, so the WAN is never
// open in between); it is a no-op when nothing is left. ctx bounds the
// iptables runs, so a hung one cannot outlast the unit's stop timeout.
func (f *Firewall) Cleanup(ctx context.Context) error {
	var errs []error
	for _, fam := range f.families(Ruleset{}) {
		if fam.t == nil {
			continue
		}
		c := &converger{t: fam.t}
		err := c.converge(ctx, Rules{})
		if len(c.changes) > 0 {
			f.log.Info("firewall rules removed", "family", fam.name, "changes", len(c.changes))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cleanup %s: %w", fam.name, err))
		}
	}
	return errors.Join(errs...)
}
