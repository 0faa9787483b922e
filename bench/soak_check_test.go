//go:build bench

package bench_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/failberry/failberry/systemd"
)

// The soak's invariants, each measured in the guest (processes, routes,
// rules, /proc, the journal by MESSAGE_ID), in qemu's hub trace or in the
// simulated SIM, never read from the daemon's own report of itself.

// settleWithin is how long the steady state may take to return once the
// lan is back: a redial's pppd still exiting, a reconcile round (3 s on
// the bench) putting rules back.
const settleWithin = 20 * time.Second

// Warm-up and growth tolerances for the daemon's file descriptors and
// resident memory: the sample after soakWarmup faults against the last.
const (
	soakWarmup   = 3
	fdTolerance  = 3       // descriptors: a probe's socket or a dial's tty in flight
	rssTolerance = 2 << 10 // KiB, or a quarter of the warm figure when larger (Go's heap pacing)
)

// soakKinds are the journal events the soak reads, in one journalctl run
// per step.
var soakKinds = []systemd.Kind{systemd.RecoveryStep, systemd.SIMError, systemd.FirewallRepaired, systemd.DaemonStarted}

// check verifies the invariants after a step.
func (s *soak) check(st soakStep, sinceUs int64, reboots int) {
	s.settle()
	all := journalOf(s.t, s.ctx, s.vm, 0, soakKinds...)
	var step []journalEntry
	for _, e := range all {
		if e.at().UnixMicro() >= sinceUs {
			step = append(step, e)
		}
	}
	s.journalFor(st, step)
	cuts := s.powerCuts()
	for _, f := range st.faults {
		if f.powerCut && cuts == s.cutsBefore {
			s.t.Errorf("step %d %s: %s is cured only by a power cycle, and qemu's hub saw no power cut", s.step, st, f.name)
		}
		if f.refuse {
			s.refused(st, step, reboots)
		}
	}
	s.simCard()
	s.noPanic(sinceUs)
	s.cutsAnnounced(all)
}

// settle waits for the steady state: exactly one pppd of ours, exactly
// one default route of ours per family at most (IPv4: one), and the
// firewall as it was before the first fault, without duplicates.
func (s *soak) settle() {
	var problems []string
	ok := poll(settleWithin, func() bool {
		problems = s.steadyProblems()
		return len(problems) == 0
	})
	if !ok {
		s.t.Errorf("step %d %s: not back to the steady state within %v:\n%s", s.step, s.doing, settleWithin, strings.Join(problems, "\n"))
	}
}

// steadyScript prints the gateway's pppds (the carrier's runs on ttyS1),
// default routes and both families' rules, in sections.
const steadyScript = `echo '## pppd'; for p in $(pidof pppd); do grep -q ttyS1 /proc/$p/cmdline || echo $p; done
echo '## route4'; ip -4 route show table all default
echo '## route6'; ip -6 route show table all default
echo '## iptables'; iptables-save
echo '## ip6tables'; ip6tables-save`

func (s *soak) steadyProblems() []string {
	out, err := s.vm.Run(s.ctx, 30*time.Second, steadyScript)
	if err != nil {
		return []string{err.Error()}
	}
	sec := sections(out)
	var p []string
	if pids := strings.Fields(sec["pppd"]); len(pids) != 1 {
		p = append(p, fmt.Sprintf("want exactly one pppd of ours, have %v", pids))
	}
	if n := ourDefaults(sec["route4"]); n["main"] != 1 || maxOther(n) > 1 {
		p = append(p, fmt.Sprintf("want one IPv4 default route of ours in the main table and at most one in each other, have %v:\n%s", n, sec["route4"]))
	}
	if n := ourDefaults(sec["route6"]); maxOther(n) > 1 || n["main"] > 1 {
		p = append(p, fmt.Sprintf("want at most one IPv6 default route of ours per table, have %v:\n%s", n, sec["route6"]))
	}
	rules := normalizeRules(sec["iptables"]) + "## ip6tables\n" + normalizeRules(sec["ip6tables"])
	if d := duplicateRules(rules); len(d) > 0 {
		p = append(p, "duplicate firewall rules:\n"+strings.Join(d, "\n"))
	}
	if s.rules != "" && rules != s.rules {
		p = append(p, "the firewall differs from the one before the first fault:\n"+ruleDiff(s.rules, rules))
	}
	return p
}

// firewall is both families' rules, counters stripped.
func (s *soak) firewall() string {
	sec := sections(s.guest(steadyScript))
	rules := normalizeRules(sec["iptables"]) + "## ip6tables\n" + normalizeRules(sec["ip6tables"])
	if d := duplicateRules(rules); len(d) > 0 {
		s.t.Fatalf("duplicate firewall rules before any fault:\n%s", strings.Join(d, "\n"))
	}
	return rules
}

// sections splits steadyScript's output at its "## name" lines.
func sections(out string) map[string]string {
	m := map[string]string{}
	name := ""
	for _, l := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(l, "## "); ok {
			name = n
			continue
		}
		m[name] += l + "\n"
	}
	return m
}

var (
	tableRe = regexp.MustCompile(`\btable (\S+)`)
	pppDev  = regexp.MustCompile(`\bdev ppp\d+\b`)
)

// ourDefaults counts the default routes through a ppp device per routing
// table ("main" when `ip route show table all` names none).
func ourDefaults(routes string) map[string]int {
	n := map[string]int{}
	for _, l := range strings.Split(routes, "\n") {
		if !pppDev.MatchString(l) {
			continue
		}
		table := "main"
		if m := tableRe.FindStringSubmatch(l); m != nil {
			table = m[1]
		}
		n[table]++
	}
	return n
}

// maxOther is the largest count of the tables other than main.
func maxOther(n map[string]int) int {
	m := 0
	for t, c := range n {
		if t != "main" {
			m = max(m, c)
		}
	}
	return m
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// normalizeRules drops iptables-save's comments and packet counters.
func normalizeRules(save string) string {
	var b strings.Builder
	for _, l := range strings.Split(save, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		b.WriteString(counters.ReplaceAllString(l, "") + "\n")
	}
	return b.String()
}

// duplicateRules lists the rules that appear more than once in a table of
// one family (the IPv6 rules follow a "## ip6tables" line).
func duplicateRules(rules string) []string {
	var dups []string
	seen := map[string]int{}
	family, table := "ipv4", ""
	for _, l := range strings.Split(rules, "\n") {
		switch {
		case strings.HasPrefix(l, "## "):
			family = l[3:]
		case strings.HasPrefix(l, "*"):
			table = l
		case strings.HasPrefix(l, "-A "):
			k := family + " " + table + " " + l
			if seen[k]++; seen[k] == 2 {
				dups = append(dups, k)
			}
		}
	}
	return dups
}

// ruleDiff lists the lines only one side has.
func ruleDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "  missing: %s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "  extra:   %s\n", l)
		}
	}
	return b.String()
}

// journalFor checks that each fault left the events it must in the
// journal. A daemon restarted in the step dials afresh: its own start is
// what must be there, and the other fault's recovery steps need not be.
func (s *soak) journalFor(st soakStep, entries []journalEntry) {
	restarted := slices.ContainsFunc(st.faults, func(f *soakFault) bool { return isRestart(f) })
	for _, f := range st.faults {
		kinds := f.journal
		if isRestart(f) {
			kinds = []systemd.Kind{systemd.DaemonStarted}
		} else if restarted {
			continue
		}
		if len(kinds) == 0 {
			continue
		}
		n := 0
		for _, e := range entries {
			if slices.ContainsFunc(kinds, func(k systemd.Kind) bool { return e.str("MESSAGE_ID") == k.ID }) {
				n++
			}
		}
		if n == 0 {
			s.t.Errorf("step %d %s: no %s event in the journal after %s", s.step, st, kindNames(kinds), f.name)
		}
	}
}

func isRestart(f *soakFault) bool { return f.name == "daemon-kill" || f.name == "daemon-term" }

func kindNames(ks []systemd.Kind) string {
	var names []string
	for _, k := range ks {
		names = append(names, fmt.Sprintf("%s (MESSAGE_ID=%s)", k.Name, k.ID))
	}
	return strings.Join(names, " or ")
}

// refused checks that the daemon neither power-cycled nor rebooted in the
// step: no cut in qemu's hub trace, no power-cycle or reboot step in the
// journal, the stand-in reboot command not run.
func (s *soak) refused(st soakStep, entries []journalEntry, reboots int) {
	if n := s.powerCuts() - s.cutsBefore; n != 0 {
		s.t.Errorf("step %d %s: the SIM was out and qemu's hub saw %d power cuts", s.step, st, n)
	}
	if n := s.reboots() - reboots; n != 0 {
		s.t.Errorf("step %d %s: the SIM was out and the reboot command ran %d times", s.step, st, n)
	}
	for _, e := range stepsOf(s.t, entries) {
		if e.Step == "power-cycle" || e.Step == "reboot" {
			s.t.Errorf("step %d %s: the SIM was out and the journal has the recovery step %s", s.step, st, e)
		}
	}
}

// simCard checks the SIM's side: no wrong PIN ever (all attempts left), no
// PIN the SIM refused, and no more PINs than the SIM asked for.
func (s *soak) simCard() {
	c := s.vm.Modem.Snapshot()
	if c.PINAttemptsLeft != 3 || c.PINRefused != 0 || c.PINTries > c.SIMLocks {
		s.t.Errorf("step %d %s: the SIM saw %d PINs for %d requests, %d refused, %d attempts left",
			s.step, s.doing, c.PINTries, c.SIMLocks, c.PINRefused, c.PINAttemptsLeft)
	}
}

// noPanic checks the unit's journal for a Go panic or fatal error, and
// systemd for restarts the soak's SIGKILLs do not explain (a watchdog
// restart, a crash). The journal is read from the previous step's start
// on (overlapping windows: nothing between two steps is missed).
func (s *soak) noPanic(sinceUs int64) {
	out := s.guest(fmt.Sprintf(`journalctl --no-pager -o cat -u failberry --since @%d | grep -E '^(panic: |fatal error: )' | head -5; systemctl show -p NRestarts --value failberry`, s.panicFrom/1e6))
	s.panicFrom = sinceUs
	lines := strings.Split(strings.TrimSpace(out), "\n")
	restarts, err := strconv.Atoi(lines[len(lines)-1])
	if err != nil {
		s.t.Fatalf("systemctl show NRestarts: %q", out)
	}
	if len(lines) > 1 {
		s.t.Errorf("step %d %s: the daemon panicked:\n%s", s.step, s.doing, strings.Join(lines[:len(lines)-1], "\n"))
	}
	if restarts > s.kills {
		s.t.Errorf("step %d %s: systemd restarted the daemon %d times for %d SIGKILLs", s.step, s.doing, restarts, s.kills)
	}
}

// cutsAnnounced checks that every power cut qemu's hub saw has its
// power-cycle recovery step in the journal, and no step lacks its cut.
func (s *soak) cutsAnnounced(all []journalEntry) {
	steps := 0
	for _, e := range stepsOf(s.t, all) {
		if e.Step == "power-cycle" {
			steps++
		}
	}
	if cuts := s.powerCuts(); cuts != steps {
		s.t.Errorf("step %d %s: qemu's hub saw %d power cuts, the journal has %d power-cycle steps", s.step, s.doing, cuts, steps)
	}
}

// procSample is the daemon's descriptors and memory at one moment.
type procSample struct {
	after  string
	pid    int
	fds    int
	rssKiB int
}

// sample reads the unit's main process's open descriptors (/proc/PID/fd)
// and resident memory (VmRSS) three times a second apart and keeps the
// least of each: a descriptor held for a moment (a probe's socket, the
// tty of a check) is not growth, one that stays is.
func (s *soak) sample(after string) {
	out := s.guest(`pid=$(systemctl show -p MainPID --value failberry); for i in 1 2 3; do [ $i = 1 ] || sleep 1; echo $pid $(ls /proc/$pid/fd | wc -l) $(awk '/^VmRSS:/ {print $2}' /proc/$pid/status); done`)
	p := procSample{after: after, fds: -1, rssKiB: -1}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			s.t.Fatalf("sampling the daemon: %q", out)
		}
		p.pid, _ = strconv.Atoi(f[0])
		fds, _ := strconv.Atoi(f[1])
		rss, _ := strconv.Atoi(f[2])
		if p.fds < 0 || fds < p.fds {
			p.fds = fds
		}
		if p.rssKiB < 0 || rss < p.rssKiB {
			p.rssKiB = rss
		}
	}
	s.samples = append(s.samples, p)
}

// finish checks growth over the run and prints the table.
func (s *soak) finish() {
	start, end := s.samples[0], s.samples[len(s.samples)-1]
	warm := s.samples[min(soakWarmup, len(s.samples)-1)]
	if end.fds > warm.fds+fdTolerance {
		s.t.Errorf("open descriptors grew from %d (after %d faults) to %d at the end (tolerance %d)", warm.fds, soakWarmup, end.fds, fdTolerance)
	}
	if tol := max(rssTolerance, warm.rssKiB/4); end.rssKiB > warm.rssKiB+tol {
		s.t.Errorf("resident memory grew from %d KiB (after %d faults) to %d KiB at the end (tolerance %d KiB)", warm.rssKiB, soakWarmup, end.rssKiB, tol)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "soak table (%d faults):\n%-22s %8s %10s %10s\n", s.step, "fault", "injected", "median", "worst")
	var names []string
	for n := range s.stats {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		r := s.stats[n]
		fmt.Fprintf(&b, "%-22s %8d %10v %10v\n", n, r.injected, median(r.recovered).Round(100*time.Millisecond), slices.Max(r.recovered).Round(100*time.Millisecond))
	}
	pids := map[int]bool{}
	for _, p := range s.samples {
		pids[p.pid] = true
	}
	for _, row := range []struct {
		name string
		p    procSample
	}{{"start", start}, {fmt.Sprintf("after %d faults", soakWarmup), warm}, {"end", end}} {
		fmt.Fprintf(&b, "daemon %-16s pid %-6d fds %3d  VmRSS %6d KiB\n", row.name, row.p.pid, row.p.fds, row.p.rssKiB)
	}
	fmt.Fprintf(&b, "daemon processes over the run: %d; power cuts: %d", len(pids), s.powerCuts())
	s.t.Log(b.String())
}
