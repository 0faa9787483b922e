// Package notify takes failberry's events out of the journal to where people
// and automations look: executables in a hooks directory, an MQTT broker
// (retained state topics, the events, Home Assistant discovery) and a
// webhook (one JSON POST per event).
//
// The daemon hands it every event as the journal got it (Publish) and a
// function that reads its current state; Publish never blocks. Each output
// has a bounded queue and a goroutine of its own, so a hanging hook, a
// broker that is down or a receiver that times out delays only that output:
// when its queue is full, new events for it are dropped and counted in a
// rate-limited warning, and the daemon's main loop never waits.
package notify

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Event is one event as the journal got it.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is the event's name, such as link-down (FAILBERRY_KIND in the
	// journal); ID its MESSAGE_ID.
	Kind    string `json:"kind"`
	ID      string `json:"message_id"`
	Message string `json:"message"`
	// Fields are the event's FAILBERRY_* journal fields without the prefix.
	Fields map[string]string `json:"fields,omitempty"`
}

// Reading is one value of the daemon's state, published as a retained MQTT
// topic <topic>/<Key> and described to Home Assistant as a sensor.
type Reading struct {
	// Key is the topic level and the sensor's object id, such as signal_dbm.
	Key string
	// Name is what Home Assistant shows, such as "Signal".
	Name string
	// Value is the state as text; empty means unknown (published as None,
	// which Home Assistant shows as unknown).
	Value string
	// Unit, DeviceClass, StateClass and Icon are the Home Assistant sensor's;
	// empty ones are left out.
	Unit, DeviceClass, StateClass, Icon string
	// Binary makes it a binary_sensor; Value is then ON or OFF.
	Binary bool
	// Counter marks a value that changes all the time (bytes): it is
	// republished every interval, not on every change.
	Counter bool
}

// Options are a Notifier's inputs besides the config.
type Options struct {
	Logger *slog.Logger
	// State reads the daemon's current state; it must not block. Nil: no
	// state topics.
	State func() []Reading
	// Hostname names the device in Home Assistant and the default client
	// id; empty: os.Hostname.
	Hostname string
}

// Notifier delivers events to the configured outputs. Create it with New,
// start it with Run, feed it with Publish.
type Notifier struct {
	log      *slog.Logger
	outputs  []output
	rerouted []chan struct{} // outputs that hold a connection open
}

// output is one destination: its queue and the loop that drains it.
type output struct {
	q   *queue
	run func(ctx context.Context, q *queue)
}

// queueSize is the queue of the hooks and of MQTT's events: a burst of
// events (a recovery climbing the ladder) fits many times over.
const queueSize = 64

// New returns the notifier c describes, which must pass Check. With no
// output configured it has nothing to do, and Publish and Run return at once.
func New(c Config, o Options) (*Notifier, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	o.Hostname = cmp.Or(o.Hostname, "failberry")
	n := &Notifier{log: o.Logger}
	if c.Hooks.Dir != "" {
		h := &hooks{dir: c.Hooks.Dir, timeout: time.Duration(c.Hooks.Timeout), log: o.Logger.With("output", "hooks")}
		n.add("hooks", queueSize, h.run)
	}
	if c.MQTT.Broker != "" {
		m, err := newMQTT(c.MQTT, o)
		if err != nil {
			return nil, fmt.Errorf("mqtt: %w", err)
		}
		n.add("mqtt", queueSize, m.run)
		n.rerouted = append(n.rerouted, m.rerouted)
	}
	if c.Webhook.URL != "" {
		w := newWebhook(c.Webhook, o.Hostname, o.Logger.With("output", "webhook"))
		n.add("webhook", c.Webhook.QueueSize, w.run)
	}
	return n, nil
}

func (n *Notifier) add(name string, size int, run func(context.Context, *queue)) {
	n.outputs = append(n.outputs, output{q: newQueue(name, size, n.log), run: run})
}

// Publish queues ev for every output without waiting.
func (n *Notifier) Publish(ev Event) {
	for _, o := range n.outputs {
		o.q.put(ev)
	}
}

// Rerouted tells the outputs that the gateway's default route has moved to
// another uplink: a connection opened over the old one is dead and is
// replaced at once. Call it before publishing the event that reports the
// change. It never blocks.
func (n *Notifier) Rerouted() {
	for _, ch := range n.rerouted {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx ends; events still queued then are not delivered.
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, o := range n.outputs {
		wg.Go(func() { o.run(ctx, o.q) })
	}
	wg.Wait()
}

// queue is an output's bounded queue of events.
type queue struct {
	name    string
	ch      chan Event
	dropped atomic.Uint64
	warn    rate.Sometimes // one warning a minute at most, for an SD card
	log     *slog.Logger
}

func newQueue(name string, size int, log *slog.Logger) *queue {
	return &queue{name: name, ch: make(chan Event, size), warn: rate.Sometimes{First: 1, Interval: time.Minute}, log: log}
}

// put queues ev, or drops it when the queue is full.
func (q *queue) put(ev Event) {
	select {
	case q.ch <- ev:
	default:
		n := q.dropped.Add(1)
		q.warn.Do(func() {
			q.log.Warn("event queue full, event dropped", "output", q.name, "queue_size", cap(q.ch), "dropped_total", n, "kind", ev.Kind)
		})
	}
}
