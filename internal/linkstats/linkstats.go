// Package linkstats reads a network interface's traffic counters over
// netlink and samples them once a second. It is the one source of "what
// did the cellular link carry": the passive path watch (traffic is the
// probe), the data meter and the status all read the same samples, so they
// never disagree about a byte.
package linkstats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
)

// Counters are an interface's kernel counters (rtnl_link_stats64), as
// `ip -s link` shows them.
type Counters struct {
	// Index is the interface's ifindex. A link that went away and came back
	// (pppd redialled, a stick re-enumerated) has another index and counters
	// that start again from zero.
	Index                                  int
	RxBytes, TxBytes, RxPackets, TxPackets uint64
}

// Since returns the traffic from prev to c: the difference, or all of c when
// c belongs to another link than prev or a counter went backwards (the link
// was re-created). The one place that rule lives.
func (c Counters) Since(prev Counters) Counters {
	if c.Index != prev.Index || c.RxBytes < prev.RxBytes || c.TxBytes < prev.TxBytes ||
		c.RxPackets < prev.RxPackets || c.TxPackets < prev.TxPackets {
		return Counters{Index: c.Index, RxBytes: c.RxBytes, TxBytes: c.TxBytes, RxPackets: c.RxPackets, TxPackets: c.TxPackets}
	}
	return Counters{Index: c.Index, RxBytes: c.RxBytes - prev.RxBytes, TxBytes: c.TxBytes - prev.TxBytes,
		RxPackets: c.RxPackets - prev.RxPackets, TxPackets: c.TxPackets - prev.TxPackets}
}

// ErrNoLink is returned by a Reader for an interface that does not exist.
var ErrNoLink = errors.New("no such link")

// Reader reads one interface's counters: the OS seam (Netlink, or a fake).
type Reader interface {
	Read(name string) (Counters, error)
}

// Netlink reads counters with one RTM_GETLINK request per call, in the
// current network namespace: no file is opened and nothing is written.
type Netlink struct{}

// Read implements Reader.
func (Netlink) Read(name string) (Counters, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return Counters{}, fmt.Errorf("%s: %w", name, ErrNoLink)
		}
		return Counters{}, fmt.Errorf("reading %s's counters: %w", name, err)
	}
	a := l.Attrs()
	if a.Statistics == nil {
		return Counters{}, fmt.Errorf("reading %s's counters: the kernel sent none", name)
	}
	s := a.Statistics
	return Counters{Index: a.Index, RxBytes: s.RxBytes, TxBytes: s.TxBytes, RxPackets: s.RxPackets, TxPackets: s.TxPackets}, nil
}

// Sample is one reading of the link's counters.
type Sample struct {
	At   time.Time
	Name string
	Counters
}

// Interval is how often Run samples: once a second is enough to see a path
// die within a few seconds and costs one netlink round trip.
const Interval = time.Second

// Run reads the counters of the interface name() returns every interval
// until ctx ends and hands each sample to every sink, in order, from this
// goroutine (a sink must not block). An interface that does not exist gives
// no sample; other read errors go to onErr, if set, without stopping Run.
func Run(ctx context.Context, r Reader, name func() string, interval time.Duration, onErr func(error), sinks ...func(Sample)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := name()
			c, err := r.Read(n)
			switch {
			case errors.Is(err, ErrNoLink):
				continue
			case err != nil:
				if onErr != nil {
					onErr(err)
				}
				continue
			}
			for _, s := range sinks {
				s(Sample{At: now, Name: n, Counters: c})
			}
		}
	}
}
