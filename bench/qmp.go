package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/failberry/failberry/modem/sim"
)

// qmpConn is a minimal QEMU Machine Protocol client: enough to unplug and
// re-plug the modem (a modem that drops off the bus) and to quit.
type qmpConn struct {
	mu sync.Mutex
	c  net.Conn
	r  *bufio.Reader
}

func dialQMP(ctx context.Context, path string) (*qmpConn, error) {
	c, err := dialRetry(ctx, path)
	if err != nil {
		return nil, err
	}
	q := &qmpConn{c: c, r: bufio.NewReader(c)}
	if _, err := q.r.ReadBytes('\n'); err != nil { // greeting
		c.Close()
		return nil, fmt.Errorf("qmp greeting: %w", err)
	}
	if _, err := q.exec("qmp_capabilities", nil); err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

// qmpTimeout bounds one QMP command: far longer than any command takes on a
// running qemu, short enough that a frozen one fails the test.
const qmpTimeout = 30 * time.Second

// exec runs one command and returns its "return" value, skipping events.
func (q *qmpConn) exec(cmd string, args map[string]any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	// A frozen qemu never answers (its main loop stuck, as when a chardev's
	// socket is not read): fail the command, do not hang the test with it.
	_ = q.c.SetDeadline(time.Now().Add(qmpTimeout))
	defer func() { _ = q.c.SetDeadline(time.Time{}) }()
	b, _ := json.Marshal(map[string]any{"execute": cmd, "arguments": args})
	if args == nil {
		b, _ = json.Marshal(map[string]any{"execute": cmd})
	}
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		var msg struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &msg); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case msg.Event != "":
			continue
		case msg.Error != nil:
			return nil, fmt.Errorf("qmp %s: %s: %s", cmd, msg.Error.Class, msg.Error.Desc)
		default:
			return msg.Return, nil
		}
	}
}

func (q *qmpConn) Close() { q.c.Close() }

// Unplug removes the modem's USB device: a modem that dropped off the bus.
func (vm *VM) Unplug() error {
	_, err := vm.qmp.exec("device_del", map[string]any{"id": "modemdev"})
	return err
}

// Replug attaches the modem's USB device again at its hub port.
func (vm *VM) Replug() error {
	_, err := vm.qmp.exec("device_add", map[string]any{
		"driver": "usb-serial", "id": "modemdev", "chardev": "modem",
		"bus": "xhci.0", "port": fmt.Sprintf("1.%d", ModemHubPort),
	})
	return err
}

// reenumerate unplugs the modem's USB device and plugs it in again, as a
// modem does when it reboots.
func (vm *VM) reenumerate() {
	if err := vm.Unplug(); err != nil {
		vm.log.Warn("re-enumerate: unplug", "err", err)
		return
	}
	time.Sleep(500 * time.Millisecond)
	if err := vm.Replug(); err != nil {
		vm.log.Warn("re-enumerate: replug", "err", err)
	}
}

// DropOffBus makes the modem crash off the USB bus: its device disappears
// and it answers nothing. Like a real one, it comes back only when its hub
// port's power is cut and restored.
func (vm *VM) DropOffBus() error {
	vm.Modem.SetFault(sim.FaultOffBus)
	if err := vm.Unplug(); err != nil {
		return err
	}
	go func() {
		for vm.Modem.Snapshot().Powered { // wait for the power cut...
			time.Sleep(50 * time.Millisecond)
		}
		for !vm.Modem.Snapshot().Powered { // ...and for power to return
			time.Sleep(50 * time.Millisecond)
		}
		if err := vm.Replug(); err != nil {
			vm.log.Warn("drop off bus: replug", "err", err)
		}
	}()
	return nil
}

// NetcardDropOffBus makes the network-card stick (Options.Netcard) crash
// off the USB bus: its device disappears. Like a real one, it comes back
// only once its hub port's power has been cut (qemu's hub trace shows the
// cut) and restored: it is attached again offTime after the cut.
func (vm *VM) NetcardDropOffBus(offTime time.Duration) error {
	before, err := vm.PortPowerOffTimes(NetcardHubPort)
	if err != nil {
		return err
	}
	if _, err := vm.qmp.exec("device_del", map[string]any{"id": "stickdev"}); err != nil {
		return err
	}
	go func() {
		for {
			if ts, err := vm.PortPowerOffTimes(NetcardHubPort); err != nil || len(ts) > len(before) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(offTime)
		_, err := vm.qmp.exec("device_add", map[string]any{
			"driver": "usb-net", "id": "stickdev", "netdev": "stick", "mac": netcardMAC,
			"bus": "xhci.0", "port": fmt.Sprintf("1.%d", NetcardHubPort),
		})
		if err != nil {
			vm.log.Warn("network card back on the bus", "err", err)
		}
	}()
	return nil
}
