package daemon

// Events out (issue 17), the daemon's part: every event the journal gets is
// handed to package notify (hooks, MQTT, the webhook), and the state it
// publishes is read from Status. Delivery, queues and time limits are
// notify's; nothing here waits for them.

import (
	"strconv"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/notify"
	"github.com/failberry/failberry/systemd"
)

// newNotifier builds the outputs and subscribes them to the events.
func (d *Daemon) newNotifier() (*notify.Notifier, error) {
	n, err := notify.New(d.cfg.Notify, notify.Options{
		Logger: d.log.With("component", "notify"),
		State:  func() []notify.Reading { return readings(d.Status(), d.cfg.Route.Mode) },
	})
	if err != nil {
		return nil, err
	}
	d.events.Subscribe(func(k systemd.Kind, e systemd.Event) {
		// The daemon emits link-up once the default route is on the link
		// and link-down once it is withdrawn.
		if k.ID == systemd.LinkUp.ID || k.ID == systemd.LinkDown.ID {
			n.Rerouted()
		}
		n.Publish(notify.Event{Time: e.Time, Kind: e.Kind, ID: k.ID, Message: e.Message, Fields: e.Fields})
	})
	return n, nil
}

// maxStateText is Home Assistant's longest sensor state.
const maxStateText = 255

// readings is the state published over MQTT: what Status holds.
func readings(s health.Status, routeMode string) []notify.Reading {
	signal := ""
	if s.Modem.SignalDBM != nil {
		signal = strconv.Itoa(*s.Modem.SignalDBM)
	}
	state := s.State
	if len(state) > maxStateText {
		state = state[:maxStateText]
	}
	// The cellular link carries the house's traffic while it is up in
	// replace mode, and what the Pi forwards in split mode; in metric mode
	// it stands by behind the wired route.
	active := "wired"
	if s.Link.Up && (routeMode == "replace" || routeMode == "split") {
		active = "cellular"
	}
	link := "OFF"
	if s.Link.Up {
		link = "ON"
	}
	return []notify.Reading{
		{Key: "state", Name: "State", Value: state, Icon: "mdi:sim"},
		{Key: "link", Name: "Cellular link", Value: link, Binary: true, DeviceClass: "connectivity"},
		{Key: "active_link", Name: "Active uplink", Value: active, Icon: "mdi:swap-horizontal"},
		{Key: "signal", Name: "Signal", Value: signal, Unit: "dBm", DeviceClass: "signal_strength", StateClass: "measurement"},
		{Key: "operator", Name: "Operator", Value: s.Modem.Operator, Icon: "mdi:radio-tower"},
		{Key: "access_tech", Name: "Access technology", Value: s.Modem.AccessTech, Icon: "mdi:signal-4g"},
		{Key: "address", Name: "Cellular address", Value: s.Inbound.Address, Icon: "mdi:ip-network"},
		{Key: "bytes_in", Name: "Received", Value: strconv.FormatUint(s.Link.BytesIn, 10), Unit: "B",
			DeviceClass: "data_size", StateClass: "total_increasing", Counter: true},
		{Key: "bytes_out", Name: "Sent", Value: strconv.FormatUint(s.Link.BytesOut, 10), Unit: "B",
			DeviceClass: "data_size", StateClass: "total_increasing", Counter: true},
	}
}
